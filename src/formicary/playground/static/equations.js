// The lecture's equations with the engine's current numbers, as HTML.
//   z_j^(l) = sum_k w_jk^(l) a_k^(l-1) + b_j^(l),   a_j^(l) = sigma(z_j^(l)),   w = w - eta de/dw

// A number as shown on the page: 4 decimals, or 4 significant digits when tiny or huge.
export function fmt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  const size = Math.abs(x);
  const text = size !== 0 && (size < 1e-3 || size >= 1e5) ? x.toExponential(3) : x.toFixed(4);
  return text.replaceAll("-", "−");
}

// Text from a file (class names, file names) made safe to put into HTML.
export function escapeHtml(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

// A symbol with a subscript and a superscript stacked, as in w_jk^(l).
function sym(base, sub = "", sup = "") {
  return `<i>${base}</i><span class="ss"><span>${sup}</span><span>${sub}</span></span>`;
}

function num(x, role, k = null, extra = "", j = null) {
  const key = (k === null ? "" : ` data-k="${k}"`) + (j === null ? "" : ` data-j="${j}"`);
  return `<span class="num ${extra}" data-role="${role}"${key}>${fmt(x)}</span>`;
}

function row(lhs, rhs) {
  return `<span class="lhs">${lhs}</span><span>=</span><span>${rhs}</span>`;
}

const OPTIMIZER_LABELS = {
  sgd: "SGD",
  momentum: "SGD with momentum 0.9",
  adam: "Adam",
  rmsprop: "RMSprop",
};

export function neuronHtml(d, setup, labels) {
  const j = d.neuron;
  const l = d.layer;
  const point =
    `(${num(d.point[0], "x", 1)}, ${num(d.point[1], "x", 2)})`;
  if (d.kind === "input") {
    return (
      `<h3>Input ${sym("x", j)} at the point <b>x</b> = ${point}</h3>` +
      `<div class="math eq-row">${row(`${sym("a", j, "(0)")}`, `${sym("x", j)} = ${num(d.value, "value", null, "result")}`)}</div>` +
      `<p class="note">The input layer computes nothing: <i>a</i><sup>(0)</sup> = <b>x</b> is passed to every neuron of layer 1.</p>`
    );
  }
  const act = labels[d.activation] || d.activation;
  const L = setup.sizes.length - 1;
  const up = `(${l})`;
  const down = `(${l - 1})`;
  const kind = d.kind === "output" ? "output" : "hidden";
  const terms = d.weights
    .map((w, k) => `(${num(w, "w", k + 1)})(${num(d.inputs[k], "input", k + 1)})`)
    .join(" + <wbr>");
  let html =
    `<h3>Neuron <i>j</i> = ${j} of layer <i>l</i> = ${l} (${kind}, &sigma; = ${act}) ` +
    `at the point <b>x</b> = ${point}</h3>` +
    `<div class="math eq-row">` +
    row(
      sym("z", j, up),
      `&Sigma;<sub><i>k</i></sub> ${sym("w", `${j}k`, up)} ${sym("a", "k", down)} + ${sym("b", j, up)}`,
    ) +
    row("", `${terms} + (${num(d.bias, "bias")})`) +
    row("", num(d.z, "z", null, "result")) +
    (d.layer_z
      ? softmaxRows(d, up)
      : row(sym("a", j, up), `&sigma;(${sym("z", j, up)}) = ${act}(${fmt(d.z)}) = ${num(d.a, "a", null, "result")}`));
  if (d.kind === "output") {
    const names = setup.class_names;
    if (d.layer_z) {
      html += row(sym("&ycirc;", j), `${sym("a", j, `(${L})`)} = P(class ${escapeHtml(names[j - 1])} | <b>x</b>)`);
    } else {
      const meaning = setup.task === "classification" ? ` = P(class ${escapeHtml(names[1])} | <b>x</b>)` : "";
      html += row("&ycirc;", `${sym("a", 1, `(${L})`)}${meaning}`);
    }
  }
  html += `</div>`;
  if (l === 1) {
    html += `<p class="note">In layer 1 the inputs are the point itself: ${sym("a", "k", "(0)")} = ${sym("x", "k")}.</p>`;
  }
  html += updateHtml(d, up);
  return html;
}

// a_j = e^{z_j} / sum_k e^{z_k}: the softmax of the whole output layer, with its numbers.
function softmaxRows(d, up) {
  const j = d.neuron;
  const zs = d.layer_z;
  const exps = zs.map((z) => Math.exp(z));
  const total = exps.reduce((a, b) => a + b, 0);
  const power = (z, k, role = "softmax-z") => `<i>e</i><sup>${num(z, role, k)}</sup>`;
  let html =
    row(
      sym("a", j, up),
      `<i>e</i><sup>${sym("z", j, up)}</sup> / &Sigma;<sub><i>k</i></sub> <i>e</i><sup>${sym("z", "k", up)}</sup>`,
    ) + row("", `${power(zs[j - 1], j, "softmax-zj")} / (${zs.map((z, k) => power(z, k + 1)).join(" + ")})`);
  if (exps.every(Number.isFinite) && total > 0) {
    html += row("", `${num(exps[j - 1], "exp")} / ${num(total, "exp-sum")}`);
  }
  return html + row("", num(d.a, "a", null, "result"));
}

function updateHtml(d, up) {
  const j = d.neuron;
  const u = d.update;
  if (!u) {
    return `<p class="note">No update yet: press <b>step</b> (one batch) or <b>play</b> to see <i>w</i> = <i>w</i> &minus; &eta; &part;e/&part;<i>w</i> with numbers.</p>`;
  }
  const eta = u.learning_rate;
  const lambda = u.weight_decay;
  const plain = u.optimizer === "sgd";
  let rule;
  if (plain && lambda > 0) {
    rule = `<i>w</i> = <i>w</i> &minus; &eta; (&part;e/&part;<i>w</i> + &lambda;<i>w</i>), <i>b</i> = <i>b</i> &minus; &eta; &part;e/&part;<i>b</i>`;
  } else if (plain) {
    rule = `<i>w</i> = <i>w</i> &minus; &eta; &part;e/&part;<i>w</i>, <i>b</i> = <i>b</i> &minus; &eta; &part;e/&part;<i>b</i>`;
  } else {
    rule = `<i>w</i> = <i>w</i> + &Delta;<i>w</i>, where ${OPTIMIZER_LABELS[u.optimizer]} turns &part;e/&part;<i>w</i> into the step &Delta;<i>w</i>`;
  }
  const stepHead = plain ? "&eta; &times; &part;e/&part;w" : "&Delta;w";
  let rows = "";
  d.weights.forEach((_, k) => {
    const before = u.weights_before[k];
    const grad = u.weights_gradient[k];
    const after = u.weights_after[k];
    const step = plain ? eta * (grad + lambda * before) : after - before;
    rows +=
      `<tr><td class="math">${sym("w", `${j}${k + 1}`, up)}</td><td>${num(before, "w-before", k + 1)}</td>` +
      `<td>${num(grad, "w-grad", k + 1)}</td><td>${num(step, "w-step", k + 1)}</td>` +
      `<td>${num(after, "w-after", k + 1, "result")}</td></tr>`;
  });
  const bStep = plain ? eta * u.bias_gradient : u.bias_after - u.bias_before;
  rows +=
    `<tr><td class="math">${sym("b", j, up)}</td><td>${num(u.bias_before, "b-before")}</td>` +
    `<td>${num(u.bias_gradient, "b-grad")}</td><td>${num(bStep, "b-step")}</td>` +
    `<td>${num(u.bias_after, "b-after", null, "result")}</td></tr>`;
  const decay = lambda > 0 ? `, &lambda; = ${lambda}` : "";
  return (
    `<h3 style="margin-top:12px">Last update (step ${u.step.toLocaleString("en")}, ` +
    `${OPTIMIZER_LABELS[u.optimizer]}, &eta; = <span data-role="eta">${eta}</span>${decay}): ${rule}</h3>` +
    `<table class="update"><thead><tr><th>parameter</th><th>before</th><th>&part;e/&part;w (engine)</th>` +
    `<th>${plain ? (lambda > 0 ? "&eta;(&part;e/&part;w + &lambda;w)" : stepHead) : stepHead}</th><th>after</th></tr></thead>` +
    `<tbody>${rows}</tbody></table>` +
    `<p class="note">&part;e/&part;<i>w</i> is the engine's backpropagated gradient for that batch, averaged over its samples.</p>`
  );
}

export function collapseHtml(c, setup) {
  const L = c.layers;
  const product =
    L === 1
      ? sym("W", "", "(1)")
      : `${sym("W", "", `(${L})`)} &middot;&middot;&middot; ${sym("W", "", "(1)")}`;
  const bias = `${sym("W", "", `(${L})`)}(&middot;&middot;&middot;(${sym("W", "", "(2)")} ${sym("b", "", "(1)")} + ${sym("b", "", "(2)")})&middot;&middot;&middot;) + ${sym("b", "", `(${L})`)}`;
  const head =
    `<h3>Identity switch: the ${L} layers collapse into one</h3>` +
    `<p>Every hidden neuron now has <i>a</i> = <i>z</i>, so the layers compose into one affine map:</p>` +
    `<div class="math"><i>W</i> = ${product}</div>` +
    (L > 1 ? `<div class="math"><i>b</i> = ${bias}</div>` : "");
  const check =
    `<p class="muted">Checked on the grid: the network and this equation differ by at most ` +
    `${fmt(c.max_difference)}.</p>`;
  if (c.outputs > 1) {
    // softmax(W x + b): one affine function per class
    const rows = c.weights
      .map(
        (w, j) =>
          `<div class="math wrap">${sym("z", j + 1)} = (${num(w[0], "collapse-w", 1, "", j + 1)}) ${sym("x", 1)} + ` +
          `(${num(w[1], "collapse-w", 2, "", j + 1)}) ${sym("x", 2)} + (${num(c.bias[j], "collapse-b", null, "", j + 1)})` +
          ` <span class="muted">(${escapeHtml(setup.class_names[j])})</span></div>`,
      )
      .join("");
    return (
      head +
      `<div class="math equation">&ycirc; = softmax(<i>W</i><b>x</b> + <i>b</i>), with</div>${rows}` +
      `<p>That is a single softmax layer (multinomial logistic regression): classes <i>i</i> and <i>j</i> ` +
      `meet where ${sym("z", "i")} = ${sym("z", "j")}, a <b>straight line</b>, so every class region is a ` +
      `convex polygon, whatever the weights.</p>` +
      check
    );
  }
  const linear =
    `(${num(c.weights[0], "collapse-w", 1)}) ${sym("x", 1)} + (${num(c.weights[1], "collapse-w", 2)}) ${sym("x", 2)} + (${num(c.bias, "collapse-b")})`;
  const classification = setup.task === "classification";
  const equation = classification ? `&sigma;(${linear})` : linear;
  const shape = classification
    ? "a single-layer perceptron (logistic regression): its decision boundary, where the bracket is 0, is a <b>straight line</b> (dashed), whatever the weights. No line separates XOR."
    : "a single linear layer: its prediction is a <b>plane</b>, whatever the weights.";
  return head + `<div class="math equation">&ycirc; = ${equation}</div>` + `<p>That is ${shape}</p>` + check;
}
