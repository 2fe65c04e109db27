// Formicary playground: the page side. Every number comes from the Python engine over a
// WebSocket (see formicary/playground/server.py for the protocol); this file only draws.
import { classColour, drawBoundary, drawEdges, drawLossChart, paintHeatmap } from "./render.js";
import { collapseHtml, escapeHtml, neuronHtml } from "./equations.js";

const $ = (id) => document.getElementById(id);

const URL_KEYS = {
  dataset: "data",
  noise: "noise",
  points: "points",
  train_ratio: "ratio",
  seed: "seed",
  hidden: "layers",
  activations: "act",
  learning_rate: "lr",
  batch_size: "batch",
  optimizer: "opt",
  l2: "l2",
  identity: "identity",
};
// An uploaded CSV travels in the link as file=<name>&csv=<data>: the file's text compressed
// with raw DEFLATE (RFC 1951, CompressionStream "deflate-raw") and written in base64url.
const SHARE_KEYS = { name: "file", data: "csv" };
const ACTIVATION_LABELS = {
  tanh: "tanh",
  sigmoid: "sigmoid",
  relu: "ReLU",
  leaky_relu: "leaky ReLU",
  softplus: "softplus",
  gelu: "GELU",
  identity: "identity",
  softmax: "softmax",
};
const DATASET_LABELS = {
  xor: "XOR",
  circles: "Circles",
  moons: "Moons",
  spirals: "Spirals",
  gaussians: "Gaussians",
  plane: "Plane (regression)",
};

// Everything the page knows; exposed as window.formicaryPlayground for tests and the curious.
const state = {
  ws: null,
  hello: null,
  config: null,
  setup: null,
  frame: null, // the frame on screen
  latest: null, // the last frame received (a background tab trains without drawing)
  pending: null,
  drawScheduled: false,
  history: [],
  selected: null,
  lastHash: null,
  layout: null,
  share: null, // the uploaded CSV in use: { id, name, text, encoded, packing, unsupported }
  pendingShare: null, // an upload the server has not accepted yet
  uploads: 0, // numbers the uploads: the setup accepting one echoes its number
  stats: { frames: 0, received: 0, firstAt: null, lastAt: null },
};
window.formicaryPlayground = state;

// ------------------------------------------------------------------ messages to the user
function showMessage(text, kind = "error") {
  const box = $("message");
  $("message-text").textContent = text;
  box.className = `message ${kind}`;
  box.hidden = false;
}
function clearMessage() {
  $("message").hidden = true;
}

// ------------------------------------------------------------------ URL <-> configuration
function settingsFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const settings = {};
  for (const [key, short] of Object.entries(URL_KEYS)) {
    if (!params.has(short)) continue;
    let value = params.get(short);
    if (key === "hidden" || key === "activations") {
      value = value.trim() === "" ? [] : value.split(",");
    } else if (key === "identity") {
      value = ["1", "true", "on", "yes"].includes(value.toLowerCase());
    }
    settings[key] = value;
  }
  return settings;
}

function hashFromConfig(config) {
  const params = new URLSearchParams();
  for (const [key, short] of Object.entries(URL_KEYS)) {
    let value = config[key];
    if (Array.isArray(value)) value = value.join(",");
    if (typeof value === "boolean") value = value ? "1" : "0";
    params.set(short, String(value));
  }
  return "#" + params.toString().replaceAll("%2C", ",");
}

// The hash with the uploaded data when it is in use and fits in a link; also says why not.
function shareHash(config) {
  let hash = hashFromConfig(config);
  const share = state.share;
  if (config.dataset !== "csv" || !share) return { hash, data: null };
  hash += `&${SHARE_KEYS.name}=${encodeURIComponent(share.name)}`;
  if (share.unsupported) return { hash, data: "unsupported" };
  if (share.encoded === null) return { hash, data: "pending" };
  const withData = `${hash}&${SHARE_KEYS.data}=${share.encoded}`;
  const base = location.href.split("#")[0];
  if (base.length + withData.length > state.hello.limits.link_chars) {
    return { hash, data: "too-large", chars: base.length + withData.length };
  }
  return { hash: withData, data: "included" };
}

function writeHash(config) {
  const { hash } = shareHash(config);
  state.lastHash = hash;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

// ------------------------------------------------------------------ CSV data in the link
function toBase64Url(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function deflate(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return toBase64Url(new Uint8Array(await new Response(stream).arrayBuffer()));
}

// The text back from a link, read chunk by chunk: a link that inflates beyond the upload
// limit is refused before it fills the memory.
async function inflate(encoded, limit) {
  const stream = new Blob([fromBase64Url(encoded)])
    .stream()
    .pipeThrough(new DecompressionStream("deflate-raw"));
  const reader = stream.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw new RangeError(`its data is larger than ${Math.round(limit / 1000)} kB`);
    }
    chunks.push(value);
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(await new Blob(chunks).arrayBuffer());
}

// Send a CSV to the engine; once it is accepted, the link carries it (compressed) too.
function uploadText(name, text, encoded = null) {
  state.uploads += 1;
  // encoded: the text packed for the link (given when it came from a link); packing: the
  // promise of it; unsupported: this browser cannot pack it, the link keeps the settings only
  const share = { id: state.uploads, name, text, encoded, packing: null, unsupported: false };
  if (encoded === null && typeof CompressionStream === "undefined") {
    share.unsupported = true;
  } else if (encoded === null) {
    share.packing = deflate(text)
      .then((data) => {
        share.encoded = data;
      })
      .catch(() => {
        share.unsupported = true;
      })
      .finally(() => {
        if (state.share === share && state.config) writeHash(state.config);
      });
  }
  state.pendingShare = share;
  send({ type: "upload", id: share.id, name, text });
}

// Apply the address's settings; a link with an uploaded CSV restores it through the same
// path (and the same checks) as an upload.
async function applyHash() {
  const settings = settingsFromHash();
  const params = new URLSearchParams(location.hash.slice(1));
  if (settings.dataset !== "csv") {
    sendConfig(settings);
    return;
  }
  const name = params.get(SHARE_KEYS.name) || "shared.csv";
  const encoded = params.get(SHARE_KEYS.data);
  const share = state.share;
  if (share && share.name === name && (encoded === null || share.encoded === encoded)) {
    sendConfig(settings); // the engine has this data already
    return;
  }
  delete settings.dataset; // the rest applies now; the data follows once it is checked
  sendConfig(settings);
  if (!encoded) {
    const what = params.has(SHARE_KEYS.name)
      ? `an uploaded file, ${name}, too large to travel in a link`
      : "an uploaded CSV file that is not in the link";
    showMessage(
      `This link was made with ${what}: choose it with Upload CSV… to continue with these settings.`,
      "info",
    );
    return;
  }
  let text;
  try {
    if (typeof DecompressionStream === "undefined") throw new Error("this browser cannot unpack it");
    text = await inflate(encoded, state.hello.limits.csv_bytes);
  } catch (error) {
    showMessage(
      `The data of ${name} in this link cannot be read (${error.message || error}); the link ` +
        "may be cut short. The other settings are applied; upload the file to use it.",
    );
    return;
  }
  uploadText(name, text, encoded);
}

// ------------------------------------------------------------------ the connection
function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

function sendConfig(settings) {
  clearMessage();
  send({ type: "config", settings });
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  state.ws = ws;
  ws.addEventListener("open", () => {
    $("status").textContent = "connected to the engine";
    $("status").className = "status ok";
  });
  ws.addEventListener("message", (event) => receive(JSON.parse(event.data)));
  ws.addEventListener("close", () => {
    $("status").textContent = "disconnected";
    $("status").className = "status down";
    document.body.classList.remove("playing");
    showMessage(
      "The connection to the Formicary server was lost. Is `formicary playground` still " +
        "running? Reload the page to reconnect.",
    );
  });
}

function receive(message) {
  switch (message.type) {
    case "hello":
      state.hello = message;
      $("version").textContent = message.version;
      $("download").href = `/api/sessions/${message.session}/model.fcy`;
      buildDatasetChips();
      applyHash();
      break;
    case "setup":
      state.setup = message;
      if (message.reset !== false) {
        state.history = [];
      }
      if (state.pendingShare && message.upload === state.pendingShare.id) {
        // the engine accepted the upload: it is the data set now, and the link carries it
        state.share = state.pendingShare;
        state.pendingShare = null;
        showMessage(`Loaded ${message.custom_summary}.`, "info");
      }
      applyConfig(message.config);
      layoutNetwork();
      break;
    case "config":
      applyConfig(message.config);
      break;
    case "frame":
      state.stats.received += 1;
      state.latest = message;
      if (message.warning) showMessage(message.warning, "warning");
      state.pending = message;
      if (document.hidden) {
        // A background tab keeps training: acknowledge now, draw when visible again.
        send({ type: "ack", seq: message.seq });
      } else if (!state.drawScheduled) {
        // Draw on the next animation frame, or after 100 ms where animation frames are
        // throttled (an unfocused window), so training never waits long for the page.
        state.drawScheduled = true;
        requestAnimationFrame(drawPending);
        state.drawTimer = setTimeout(drawPending, 100);
      }
      break;
    case "error":
      showMessage(message.message, message.kind === "diverged" ? "warning" : "error");
      break;
    default:
      break;
  }
}

function drawPending() {
  clearTimeout(state.drawTimer);
  state.drawScheduled = false;
  const frame = state.pending;
  if (!frame || !state.setup) return;
  state.pending = null;
  send({ type: "ack", seq: frame.seq });
  if (!renderFrame(frame)) return;
  const now = performance.now();
  const stats = state.stats;
  stats.frames += 1;
  if (stats.firstAt === null) stats.firstAt = now;
  stats.lastAt = now;
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.pending && !state.drawScheduled) {
    state.drawScheduled = true;
    requestAnimationFrame(drawPending);
  }
});

// ------------------------------------------------------------------ controls
function buildDatasetChips() {
  const box = $("datasets");
  box.innerHTML = "";
  for (const [name, info] of Object.entries(state.hello.datasets)) {
    if (name === "csv") continue;
    const chip = document.createElement("button");
    chip.className = "chip";
    chip.dataset.dataset = name;
    chip.textContent = DATASET_LABELS[name] || name;
    chip.title = info.description;
    chip.addEventListener("click", () => sendConfig({ dataset: name, noise: info.noise }));
    box.appendChild(chip);
  }
  const csv = document.createElement("button");
  csv.className = "chip csv";
  csv.dataset.dataset = "csv";
  csv.hidden = true;
  csv.addEventListener("click", () => sendConfig({ dataset: "csv" }));
  box.appendChild(csv);
}

function applyConfig(config) {
  state.config = config;
  writeHash(config);
  $("learning_rate").value = config.learning_rate;
  $("optimizer").value = config.optimizer;
  $("batch_size").value = config.batch_size;
  $("l2").value = String(config.l2);
  if ($("l2").value !== String(config.l2)) {
    const option = new Option(String(config.l2), String(config.l2));
    $("l2").add(option);
    $("l2").value = String(config.l2);
  }
  $("noise").value = config.noise;
  $("noise-value").textContent = Number(config.noise).toFixed(2);
  $("train_ratio").value = config.train_ratio;
  $("ratio-value").textContent = `${Math.round(config.train_ratio * 100)}%`;
  $("points").value = config.points;
  $("seed").value = config.seed;
  $("identity").checked = config.identity;
  document.body.classList.toggle("identity", config.identity);
  const custom = state.setup && state.setup.custom;
  for (const chip of $("datasets").children) {
    chip.classList.toggle("active", chip.dataset.dataset === config.dataset);
    if (chip.dataset.dataset === "csv") {
      chip.hidden = !custom;
      chip.textContent = custom ? `CSV: ${custom}` : "CSV";
    }
  }
  const isCsv = config.dataset === "csv";
  $("points").disabled = isCsv;
  $("noise").disabled = isCsv;
  const n = config.hidden.length;
  $("layer-count").textContent = `${n} hidden layer${n === 1 ? "" : "s"}`;
  $("add-layer").disabled = n >= state.hello.limits.hidden_layers;
  $("remove-layer").disabled = n === 0;
  for (const select of document.querySelectorAll(".layer-control select")) {
    select.disabled = config.identity;
  }
}

function changeLayers(hidden, activations) {
  sendConfig({ hidden, activations });
}

function wireControls() {
  $("play").addEventListener("click", togglePlay);
  $("step").addEventListener("click", () => send({ type: "step" }));
  $("reset").addEventListener("click", () => {
    clearMessage();
    send({ type: "reset" });
  });
  $("learning_rate").addEventListener("change", (e) => sendConfig({ learning_rate: e.target.value }));
  $("optimizer").addEventListener("change", (e) => sendConfig({ optimizer: e.target.value }));
  $("batch_size").addEventListener("change", (e) => sendConfig({ batch_size: e.target.value }));
  $("l2").addEventListener("change", (e) => sendConfig({ l2: e.target.value }));
  $("noise").addEventListener("input", (e) => {
    $("noise-value").textContent = Number(e.target.value).toFixed(2);
  });
  $("noise").addEventListener("change", (e) => sendConfig({ noise: e.target.value }));
  $("train_ratio").addEventListener("input", (e) => {
    $("ratio-value").textContent = `${Math.round(e.target.value * 100)}%`;
  });
  $("train_ratio").addEventListener("change", (e) => sendConfig({ train_ratio: e.target.value }));
  $("points").addEventListener("change", (e) => sendConfig({ points: e.target.value }));
  $("seed").addEventListener("change", (e) => sendConfig({ seed: e.target.value }));
  $("reseed").addEventListener("click", () =>
    sendConfig({ seed: Math.floor(Math.random() * 100000) }),
  );
  $("identity").addEventListener("change", (e) => sendConfig({ identity: e.target.checked }));
  $("add-layer").addEventListener("click", () => {
    const c = state.config;
    const last = c.hidden.length ? c.hidden[c.hidden.length - 1] : 4;
    const act = c.activations.length ? c.activations[c.activations.length - 1] : "tanh";
    changeLayers([...c.hidden, last], [...c.activations, act]);
  });
  $("remove-layer").addEventListener("click", () => {
    const c = state.config;
    changeLayers(c.hidden.slice(0, -1), c.activations.slice(0, -1));
  });
  $("csv-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    const limit = state.hello.limits.csv_bytes;
    if (file.size > limit) {
      showMessage(
        `${file.name} is ${Math.round(file.size / 1000)} kB; the playground takes CSV files up ` +
          `to ${Math.round(limit / 1000)} kB (at most ${state.hello.limits.points} rows).`,
      );
      return;
    }
    clearMessage();
    uploadText(file.name, await file.text());
  });
  $("show-test").addEventListener("change", () => fits(state.frame) && renderOutput(state.frame));
  $("copy-link").addEventListener("click", copyLink);
  $("message-close").addEventListener("click", clearMessage);
  $("boundary").addEventListener("click", (e) => {
    if (!state.setup || !state.layout) return;
    const point = boundaryPoint(e);
    if (!point) return;
    const sizes = state.setup.sizes;
    const target = state.selected || { layer: sizes.length - 1, neuron: 1 };
    select(target.layer, target.neuron, point);
  });
  window.addEventListener("hashchange", () => {
    if (location.hash !== state.lastHash) {
      clearMessage();
      applyHash();
    }
  });
  window.addEventListener("resize", () => {
    if (state.setup) {
      layoutNetwork();
      if (state.frame) renderFrame(state.frame);
    }
  });
  document.addEventListener("keydown", (e) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (e.code === "Space" && !typing) {
      e.preventDefault();
      togglePlay();
    }
  });
}

async function copyLink() {
  if (state.share && state.share.packing) await state.share.packing;
  if (state.config) writeHash(state.config);
  const link = location.href;
  const { data, chars } = state.config ? shareHash(state.config) : { data: null };
  const shown = link.length > 120 ? `${link.slice(0, 100)}… (${link.length.toLocaleString("en")} characters)` : link;
  let copied = true;
  try {
    await navigator.clipboard.writeText(link);
  } catch {
    copied = false; // no clipboard permission: the address bar holds the same link
  }
  const head = copied ? `Link copied: ${shown}` : `Copy the link from the address bar: ${shown}`;
  const name = state.share ? state.share.name : "";
  const limit = Math.round(state.hello.limits.link_chars / 1024);
  if (data === "included") {
    showMessage(`${head}. It holds the settings and the data of ${name}.`, "info");
  } else if (data === "too-large") {
    showMessage(
      `${head}. It shares the settings only: ${name} is too large to share by link (with its ` +
        `data the link would be ${Math.round(chars / 1024)} kB; a link holds at most ${limit} kB). ` +
        `Send the file along: the link asks for it.`,
      "warning",
    );
  } else if (data === "unsupported") {
    showMessage(`${head}. It shares the settings only: this browser cannot compress ${name} into a link.`, "warning");
  } else {
    showMessage(head, "info");
  }
}

function togglePlay() {
  const playing = document.body.classList.contains("playing");
  if (playing) {
    send({ type: "pause" });
    document.body.classList.remove("playing");
  } else {
    clearMessage();
    send({ type: "play" });
    document.body.classList.add("playing");
  }
}

function select(layer, neuron, point) {
  state.selected = { layer, neuron };
  const message = { type: "select", layer, neuron };
  if (point) message.point = point;
  send(message);
  for (const node of document.querySelectorAll(".node")) {
    node.classList.toggle(
      "selected",
      Number(node.dataset.layer) === layer && Number(node.dataset.neuron) === neuron,
    );
  }
}

// ------------------------------------------------------------------ the network picture
function layoutNetwork() {
  const setup = state.setup;
  const sizes = setup.sizes;
  const graph = $("graph");
  const biggest = Math.max(...sizes);
  // Tall enough for the widest layer, no taller: small networks leave room for the equations.
  graph.style.height = `${Math.max(250, Math.min(440, biggest * 58 + 30))}px`;
  const width = graph.clientWidth;
  const height = graph.clientHeight;
  const columns = sizes.length;
  const left = 46;
  const classes = setup.task === "classification" && sizes[sizes.length - 1] > 1;
  const right = classes ? 120 : 60; // room for the class names beside the output neurons
  // Column centres; each layer's squares are as large as its neuron count allows.
  const xs = sizes.map((_, i) =>
    columns === 1 ? width / 2 : left + 21 + ((width - left - right - 42) * i) / (columns - 1),
  );
  const nodes = [];
  sizes.forEach((count, layer) => {
    const size = Math.max(5, Math.min(42, Math.floor((height * 0.94) / count) - 6));
    const room = height * 0.96 - count * size;
    const gap = count > 1 ? Math.max(1, Math.min(16, room / (count - 1))) : 0;
    const total = count * size + (count - 1) * gap;
    const top = (height - total) / 2;
    for (let j = 0; j < count; j += 1) {
      nodes.push({
        layer,
        neuron: j + 1,
        x: xs[layer] - size / 2,
        y: top + j * (size + gap),
        size,
      });
    }
  });
  const spacing = columns > 1 ? xs[1] - xs[0] : width;
  state.layout = { width, height, xs, nodes, sizes, spacing };

  const box = $("nodes");
  box.innerHTML = "";
  for (const node of nodes) {
    const canvas = document.createElement("canvas");
    canvas.className = "node";
    canvas.dataset.layer = node.layer;
    canvas.dataset.neuron = node.neuron;
    canvas.style.left = `${node.x}px`;
    canvas.style.top = `${node.y}px`;
    canvas.style.width = `${node.size}px`;
    canvas.style.height = `${node.size}px`;
    const isInput = node.layer === 0;
    const isOutput = node.layer === sizes.length - 1;
    const kind = isInput ? "input" : isOutput ? "output" : "hidden";
    canvas.title = isInput
      ? `input x${node.neuron} = a_${node.neuron}^(0)`
      : `${kind} neuron j=${node.neuron} of layer l=${node.layer}: click for its equations`;
    canvas.setAttribute("aria-label", canvas.title);
    canvas.addEventListener("click", () => select(node.layer, node.neuron));
    if (state.selected && state.selected.layer === node.layer && state.selected.neuron === node.neuron) {
      canvas.classList.add("selected");
    }
    node.canvas = canvas;
    box.appendChild(canvas);
    if (isInput || isOutput) {
      const label = document.createElement("span");
      label.className = isInput ? "node-label" : "node-label right";
      if (isInput) {
        label.innerHTML = `x<sub>${node.neuron}</sub>`;
      } else if (classes) {
        // one softmax neuron per class: its colour and name
        const name = setup.class_names[node.neuron - 1];
        label.innerHTML =
          `&ycirc;<sub>${node.neuron}</sub> <span class="class-swatch" style="background:${classColour(node.neuron - 1)}"></span>` +
          `<span class="class-name">${escapeHtml(name)}</span>`;
        label.classList.add("class-label");
        label.title = `output neuron ${node.neuron}: P(class ${name} | x)`;
      } else {
        label.innerHTML = "&ycirc;";
      }
      label.style.left = `${isInput ? node.x : node.x + node.size}px`;
      label.style.top = `${node.y + node.size / 2}px`;
      box.appendChild(label);
    }
  }
  if (state.selected) {
    const { layer, neuron } = state.selected;
    if (layer >= sizes.length || neuron > sizes[layer]) state.selected = null;
  }
  paintInputs();
  buildLayerControls(xs, spacing);
}

function buildLayerControls(xs, spacing) {
  const box = $("layer-controls");
  box.innerHTML = "";
  const config = state.config;
  const limits = state.hello.limits;
  const sizes = state.setup.sizes;
  sizes.forEach((count, layer) => {
    const control = document.createElement("div");
    control.className = "layer-control";
    control.style.left = `${xs[layer]}px`;
    const compact = spacing < 84;
    if (layer === 0) {
      control.innerHTML = compact ? `<span>input</span>` : `<span>input</span><span>2 features</span>`;
    } else if (layer === sizes.length - 1) {
      const act = state.setup.activations[layer - 1];
      const detail = act === "softmax" ? `softmax, ${count} classes` : ACTIVATION_LABELS[act] || act;
      control.innerHTML = `<span>output</span><span>${detail}</span>`;
    } else {
      const i = layer - 1;
      const buttons = document.createElement("div");
      buttons.className = "buttons";
      const plus = document.createElement("button");
      plus.className = "round tiny";
      plus.textContent = "+";
      plus.title = "Add a neuron";
      plus.disabled = count >= limits.neurons;
      plus.addEventListener("click", () => {
        const hidden = [...config.hidden];
        hidden[i] += 1;
        changeLayers(hidden, config.activations);
      });
      const minus = document.createElement("button");
      minus.className = "round tiny";
      minus.innerHTML = "&minus;";
      minus.title = "Remove a neuron";
      minus.disabled = count <= 1;
      minus.addEventListener("click", () => {
        const hidden = [...config.hidden];
        hidden[i] -= 1;
        changeLayers(hidden, config.activations);
      });
      buttons.append(plus, minus);
      const label = document.createElement("span");
      label.textContent = compact ? `${count}` : `${count} neuron${count === 1 ? "" : "s"}`;
      label.title = `${count} neuron${count === 1 ? "" : "s"}`;
      const select = document.createElement("select");
      select.title = `activation of hidden layer ${layer}`;
      select.dataset.layer = layer;
      for (const name of state.hello.activations) {
        select.add(new Option(ACTIVATION_LABELS[name] || name, name));
      }
      select.value = config.activations[i];
      if (compact) select.style.maxWidth = `${Math.max(40, spacing - 8)}px`;
      select.disabled = config.identity;
      select.addEventListener("change", () => {
        const acts = [...config.activations];
        acts[i] = select.value;
        changeLayers(config.hidden, acts);
      });
      control.append(buttons, label, select);
    }
    box.appendChild(control);
  });
}

function paintInputs() {
  // x1 and x2 themselves over the plane: the inputs' "heatmaps" need no engine.
  const [x0, x1, y0, y1] = state.setup.domain;
  const extent = Math.max(Math.abs(x0), Math.abs(x1), Math.abs(y0), Math.abs(y1));
  const resolution = 16;
  for (const node of state.layout.nodes.filter((n) => n.layer === 0)) {
    const values = new Uint8Array(resolution * resolution);
    for (let r = 0; r < resolution; r += 1) {
      for (let c = 0; c < resolution; c += 1) {
        const v =
          node.neuron === 1
            ? x0 + ((c + 0.5) * (x1 - x0)) / resolution
            : y1 - ((r + 0.5) * (y1 - y0)) / resolution;
        values[r * resolution + c] = Math.round(((v / extent + 1) / 2) * 255);
      }
    }
    paintHeatmap(node.canvas, values, 0, resolution);
  }
}

// ------------------------------------------------------------------ drawing a frame
function decode(base64) {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
  return bytes;
}

// Does the frame describe the network on screen? A frame sent just before a rebuild (say, a
// new upload with more classes) arrives after the new layout and is skipped.
function fits(frame) {
  const sizes = state.layout && state.layout.sizes;
  return Boolean(
    frame &&
      sizes &&
      frame.weights.length === sizes.length - 1 &&
      frame.weights.every((w, l) => w.length === sizes[l + 1] && w[0].length === sizes[l]),
  );
}

function renderFrame(frame) {
  if (!fits(frame)) return false;
  state.frame = frame;
  const layout = state.layout;
  document.body.classList.toggle("playing", frame.playing);
  $("epoch").textContent = String(frame.epoch)
    .padStart(6, "0")
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fmtLoss = (v) =>
    v === null ? "–" : v > 0 && v < 1e-3 ? v.toExponential(2).replace("-", "−") : v.toFixed(4);
  $("train-loss").textContent = fmtLoss(frame.train_loss);
  $("test-loss").textContent = fmtLoss(frame.test_loss);
  const accuracy = state.setup.metric === "accuracy";
  const fmtMetric = (v) => (v === null ? "–" : accuracy ? `${(v * 100).toFixed(1)}%` : v.toFixed(4));
  $("metric-label").textContent = accuracy ? "Test accuracy" : "Test R²";
  $("metric-label-train").textContent = accuracy ? "Training accuracy" : "Training R²";
  $("test-metric").textContent = fmtMetric(frame.test_metric);
  $("train-metric").textContent = fmtMetric(frame.train_metric);

  const last = state.history[state.history.length - 1];
  if (!last || last.steps !== frame.steps) {
    state.history.push({ steps: frame.steps, train: frame.train_loss, test: frame.test_loss });
    if (state.history.length > 4000) state.history = state.history.filter((_, i) => i % 2 === 0);
  }

  // Each neuron's a_j^(l) over the plane, from forward(grid, trace=True).
  const neurons = frame.neurons;
  const bytes = decode(neurons.data);
  const pixels = neurons.resolution * neurons.resolution;
  let index = 0;
  for (const node of layout.nodes) {
    if (node.layer === 0) continue;
    paintHeatmap(node.canvas, bytes, index * pixels, neurons.resolution);
    index += 1;
  }
  drawEdges($("edges"), layout, frame.weights, state.selected);
  renderOutput(frame);
  drawLossChart($("loss-chart"), state.history);
  if (frame.neuron) $("equations").innerHTML = neuronHtml(frame.neuron, state.setup, ACTIVATION_LABELS);
  const collapse = $("collapse");
  if (frame.collapse) {
    collapse.innerHTML = collapseHtml(frame.collapse, state.setup);
    collapse.hidden = false;
  } else {
    collapse.hidden = true;
  }
  return true;
}

function renderOutput(frame) {
  const setup = state.setup;
  drawBoundary($("boundary"), {
    output: frame.output,
    bytes: decode(frame.output.data),
    winner: frame.output.winner ? decode(frame.output.winner) : null,
    setup,
    showTest: $("show-test").checked,
    point: frame.neuron ? frame.neuron.point : null,
    collapse: frame.collapse,
  });
  const legend = $("colour-legend");
  const names = setup.class_names.map(escapeHtml);
  const dots =
    `Filled dots with white rims are training points, black rims test points. ` +
    `Click the map to move the point <b>x</b> used in the equations.`;
  if (setup.task === "classification" && names.length > 2) {
    const classes = names
      .map(
        (name, k) =>
          `<span class="class-entry" data-class="${k}"><span class="class-swatch" ` +
          `style="background:${classColour(k)}"></span>${name}</span>`,
      )
      .join(" ");
    legend.innerHTML =
      `Colours show the most probable class, the deeper the surer the network ` +
      `(&ycirc;<sub>j</sub> = P(class j | x), softmax): ${classes}. ${dots}`;
  } else if (setup.task === "classification") {
    const [a, b] = names;
    legend.innerHTML =
      `Colours show the output &ycirc; = P(class ${b} | x): <span class="swatch neg"></span>${a} ` +
      `<span class="swatch pos"></span>${b}. ${dots}`;
  } else {
    const [low, high] = setup.y_range.map((v) => v.toFixed(2).replace("-", "−"));
    legend.innerHTML =
      `Colours show the prediction &ycirc;, from <span class="swatch neg"></span>${low} ` +
      `to <span class="swatch pos"></span>${high}; the dots are the targets <i>y</i> on the ` +
      `same scale. Click the map to move the point <b>x</b> used in the equations.`;
  }
}

function boundaryPoint(event) {
  const canvas = $("boundary");
  const rect = canvas.getBoundingClientRect();
  const geometry = canvas.geometry;
  if (!geometry) return null;
  const px = event.clientX - rect.left;
  const py = event.clientY - rect.top;
  const { left, top, size } = geometry;
  if (px < left || px > left + size || py < top || py > top + size) return null;
  const [x0, x1, y0, y1] = state.setup.domain;
  return [x0 + ((px - left) / size) * (x1 - x0), y1 - ((py - top) / size) * (y1 - y0)];
}

wireControls();
connect();
