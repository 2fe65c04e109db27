// Canvas drawing for the playground: neuron heatmaps, weighted edges, the output map, the loss chart.

const ORANGE = [245, 147, 34];
const MIDDLE = [232, 234, 235];
const BLUE = [8, 119, 189];

// One colour per class for three or more classes: the Okabe-Ito palette, told apart with
// every common colour-vision deficiency (Okabe & Ito 2008, "Color Universal Design").
export const CLASS_COLOURS = [
  [230, 159, 0], // orange
  [86, 180, 233], // sky blue
  [0, 158, 115], // bluish green
  [240, 228, 66], // yellow
  [0, 114, 178], // blue
  [213, 94, 0], // vermillion
  [204, 121, 167], // reddish purple
  [0, 0, 0], // black
];

export function classColour(k) {
  const [r, g, b] = CLASS_COLOURS[k % CLASS_COLOURS.length];
  return `rgb(${r},${g},${b})`;
}

// 256 colours from orange (low) through light grey (middle) to blue (high), as RGB triples.
export const colourMap = (() => {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i += 1) {
    const t = i / 255;
    const [from, to, s] = t < 0.5 ? [ORANGE, MIDDLE, t * 2] : [MIDDLE, BLUE, (t - 0.5) * 2];
    for (let c = 0; c < 3; c += 1) lut[i * 3 + c] = from[c] + (to[c] - from[c]) * s;
  }
  return lut;
})();

function fillImage(image, bytes, offset, count) {
  const data = image.data;
  for (let i = 0; i < count; i += 1) {
    const v = bytes[offset + i] * 3;
    data[i * 4] = colourMap[v];
    data[i * 4 + 1] = colourMap[v + 1];
    data[i * 4 + 2] = colourMap[v + 2];
    data[i * 4 + 3] = 255;
  }
}

// Decision regions: the winning class's colour, deeper the surer the network is. A winning
// probability of 1/K (no preference) is nearly the light grey of the middle, 1 is 65 % of the
// colour: lighter than the dots, which carry the full colour of their class.
function fillClasses(image, winner, probability, count, classes) {
  const data = image.data;
  const chance = 1 / classes;
  for (let i = 0; i < count; i += 1) {
    const colour = CLASS_COLOURS[winner[i] % CLASS_COLOURS.length];
    const sure = Math.max(0, Math.min(1, (probability[i] / 255 - chance) / (1 - chance)));
    const t = 0.1 + 0.55 * sure;
    for (let c = 0; c < 3; c += 1) data[i * 4 + c] = MIDDLE[c] + (colour[c] - MIDDLE[c]) * t;
    data[i * 4 + 3] = 255;
  }
}

export function paintHeatmap(canvas, bytes, offset, resolution) {
  if (canvas.width !== resolution || canvas.height !== resolution) {
    canvas.width = resolution;
    canvas.height = resolution;
  }
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(resolution, resolution);
  fillImage(image, bytes, offset, resolution * resolution);
  ctx.putImageData(image, 0, 0);
}

function fitCanvas(canvas, width, height) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.round(width * ratio);
  const h = Math.round(height * ratio);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return ctx;
}

function rgba(rgb, alpha) {
  return `rgba(${rgb[0]},${rgb[1]},${rgb[2]},${alpha})`;
}

// Edges: width grows with |w_jk^(l)|, blue for positive and orange for negative weights.
// Edges are grouped into a few buckets of sign and size and each bucket is stroked once,
// which keeps even an 8 x 64 network (28,000 edges) quick to draw.
const LEVELS = 12;

export function drawEdges(canvas, layout, weights, selected) {
  const ctx = fitCanvas(canvas, layout.width, layout.height);
  const byLayer = layout.sizes.map(() => []);
  for (const node of layout.nodes) byLayer[node.layer].push(node);
  const dense = layout.nodes.length > 80;
  const buckets = new Map();
  const highlighted = [];
  for (let l = 1; l < byLayer.length; l += 1) {
    const matrix = weights[l - 1];
    for (let j = 0; j < byLayer[l].length; j += 1) {
      const to = byLayer[l][j];
      const isSelected = selected && selected.layer === l && selected.neuron === j + 1;
      for (let k = 0; k < byLayer[l - 1].length; k += 1) {
        const w = matrix[j][k];
        const edge = { from: byLayer[l - 1][k], to, w };
        if (isSelected) {
          highlighted.push(edge);
          continue;
        }
        const level = Math.min(LEVELS - 1, Math.floor(Math.abs(w) * 2.5));
        const key = (w >= 0 ? LEVELS : 0) + level;
        if (!buckets.has(key)) buckets.set(key, new Path2D());
        addEdge(buckets.get(key), edge, dense);
      }
    }
  }
  for (const [key, path] of buckets) {
    const positive = key >= LEVELS;
    const magnitude = ((key % LEVELS) + 0.5) / 2.5;
    ctx.lineWidth = Math.min(0.5 + magnitude * 1.6, 8) * (dense ? 0.4 : 1);
    const alpha = Math.min(0.25 + magnitude * 0.3, 0.9) * (dense ? 0.6 : 1);
    ctx.strokeStyle = rgba(positive ? BLUE : ORANGE, alpha);
    ctx.stroke(path);
  }
  for (const edge of highlighted) {
    const path = new Path2D();
    addEdge(path, edge, false);
    ctx.lineWidth = Math.min(0.5 + Math.abs(edge.w) * 1.6, 8) + 1;
    ctx.strokeStyle = rgba(edge.w >= 0 ? BLUE : ORANGE, 1);
    ctx.stroke(path);
  }
}

function addEdge(path, { from, to }, straight) {
  const x0 = from.x + from.size;
  const y0 = from.y + from.size / 2;
  const x1 = to.x;
  const y1 = to.y + to.size / 2;
  path.moveTo(x0, y0);
  if (straight) {
    path.lineTo(x1, y1);
  } else {
    const middle = (x0 + x1) / 2;
    path.bezierCurveTo(middle, y0, middle, y1, x1, y1);
  }
}

let offscreen = null;

// The output a^(L) over the plane, the data points, the chosen point and (identity switch) the line.
export function drawBoundary(canvas, { output, bytes, winner, setup, showTest, point, collapse }) {
  const width = canvas.clientWidth;
  const ctx = fitCanvas(canvas, width, width);
  const left = 36;
  const top = 6;
  const size = width - left - 8;
  canvas.geometry = { left, top, size };
  const resolution = output.resolution;
  if (!offscreen) offscreen = document.createElement("canvas");
  offscreen.width = resolution;
  offscreen.height = resolution;
  const octx = offscreen.getContext("2d");
  const image = octx.createImageData(resolution, resolution);
  const classes = setup.class_names.length;
  if (winner) fillClasses(image, winner, bytes, resolution * resolution, classes);
  else fillImage(image, bytes, 0, resolution * resolution);
  octx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(offscreen, left, top, size, size);

  const [x0, x1, y0, y1] = setup.domain;
  const toX = (x) => left + ((x - x0) / (x1 - x0)) * size;
  const toY = (y) => top + ((y1 - y) / (y1 - y0)) * size;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, size, size);
  ctx.clip();

  const classification = setup.task === "classification";
  const [lowY, highY] = setup.y_range;
  const pointColour = (y) => {
    if (classification && classes > 2) return CLASS_COLOURS[Math.round(y) % CLASS_COLOURS.length];
    if (classification) return y >= 0.5 ? BLUE : ORANGE;
    const i = Math.max(0, Math.min(255, Math.round(((y - lowY) / (highY - lowY)) * 255))) * 3;
    return [colourMap[i], colourMap[i + 1], colourMap[i + 2]];
  };
  const sets = [[setup.train, "#ffffff"]];
  if (showTest) sets.push([setup.test, "#1f2a33"]);
  const count = setup.train.x.length + (showTest ? setup.test.x.length : 0);
  const radius = count > 1500 ? 2.2 : count > 600 ? 2.8 : 3.4;
  for (const [data, rim] of sets) {
    ctx.lineWidth = 1;
    ctx.strokeStyle = rim;
    for (let i = 0; i < data.x.length; i += 1) {
      const [a, b] = data.x[i];
      ctx.beginPath();
      ctx.arc(toX(a), toY(b), radius, 0, Math.PI * 2);
      ctx.fillStyle = rgba(pointColour(data.y[i]), 1);
      ctx.fill();
      ctx.stroke();
    }
  }

  if (collapse && classification && collapse.outputs === 1) {
    // The collapsed network's boundary w1 x1 + w2 x2 + b = 0: a straight line.
    const [w1, w2] = collapse.weights;
    const b = collapse.bias;
    let ends = null;
    if (Math.abs(w2) >= Math.abs(w1) && w2 !== 0) {
      ends = [
        [x0, -(w1 * x0 + b) / w2],
        [x1, -(w1 * x1 + b) / w2],
      ];
    } else if (w1 !== 0) {
      ends = [
        [-(w2 * y0 + b) / w1, y0],
        [-(w2 * y1 + b) / w1, y1],
      ];
    }
    if (ends && ends.every(([a, c]) => Number.isFinite(a) && Number.isFinite(c))) {
      ctx.beginPath();
      ctx.moveTo(toX(ends[0][0]), toY(ends[0][1]));
      ctx.lineTo(toX(ends[1][0]), toY(ends[1][1]));
      ctx.setLineDash([7, 5]);
      ctx.lineWidth = 2.2;
      ctx.strokeStyle = "#1f2a33";
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  if (point) {
    const px = toX(point[0]);
    const py = toY(point[1]);
    ctx.lineWidth = 1;
    ctx.strokeStyle = "rgba(31,42,51,0.55)";
    ctx.beginPath();
    ctx.moveTo(px - 13, py);
    ctx.lineTo(px + 13, py);
    ctx.moveTo(px, py - 13);
    ctx.lineTo(px, py + 13);
    ctx.stroke();
    ctx.beginPath();
    ctx.arc(px, py, 7, 0, Math.PI * 2);
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = "#1f2a33";
    ctx.stroke();
    ctx.beginPath();
    ctx.arc(px, py, 5, 0, Math.PI * 2);
    ctx.lineWidth = 1.2;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
  }
  ctx.restore();

  ctx.strokeStyle = "#c9d2da";
  ctx.lineWidth = 1;
  ctx.strokeRect(left + 0.5, top + 0.5, size - 1, size - 1);
  ctx.fillStyle = "#66737f";
  ctx.font = "11px sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const labels = (from, to) => {
    const ticks = [from, to];
    if (from < 0 && to > 0) ticks.push(0);
    return ticks;
  };
  for (const v of labels(x0, x1)) ctx.fillText(formatTick(v), toX(v), top + size + 4);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of labels(y0, y1)) ctx.fillText(formatTick(v), left - 5, toY(v));
  ctx.font = "italic 12px serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText("x₁", left + size * 0.75, top + size + 4);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  ctx.fillText("x₂", left - 5, top + size * 0.25);
}

function formatTick(v) {
  return (Math.abs(v) < 1e-9 ? "0" : v.toFixed(1)).replace("-", "−");
}

// Training (dark) and test (amber) loss after every frame.
export function drawLossChart(canvas, history) {
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  const ctx = fitCanvas(canvas, width, height);
  if (history.length === 0) return;
  let top = 0;
  for (const h of history) {
    if (h.train !== null) top = Math.max(top, h.train);
    if (h.test !== null) top = Math.max(top, h.test);
  }
  top = top > 0 ? top * 1.08 : 1;
  const n = history.length;
  const x = (i) => 4 + (n === 1 ? 0 : (i / (n - 1)) * (width - 8));
  const y = (v) => height - 4 - (v / top) * (height - 8);
  for (const [key, colour] of [
    ["train", "#1f2a33"],
    ["test", "#d97706"],
  ]) {
    ctx.beginPath();
    let started = false;
    history.forEach((h, i) => {
      const v = h[key];
      if (v === null) return;
      if (started) ctx.lineTo(x(i), y(v));
      else ctx.moveTo(x(i), y(v));
      started = true;
    });
    ctx.lineWidth = 1.6;
    ctx.strokeStyle = colour;
    ctx.stroke();
  }
  ctx.fillStyle = "#66737f";
  ctx.font = "10.5px sans-serif";
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  ctx.fillText(`loss (max ${(top / 1.08).toFixed(3)})`, 6, 3);
}
