// The cluster map: movies as dots on a canvas, coloured by cluster and labelled with the
// cluster names (the legend adds how many members bear each name out); hovering or touching a dot shows its full title, a click or a tap opens it.
// The canvas is drawn at the device pixel ratio (sharp on phones and high-DPI screens) in CSS
// pixel units, so dots and hit targets keep their size whatever the width of the page.
import { api } from "./api.js";
import { $, el } from "./dom.js";

// The clusters' colours come with the report (the same as the PNG's); these 20 (the palette of
// explore/clusters.py, far apart in CIELAB, no look-alike pairs) serve a report without them.
const PALETTE = [
  "#1e78b4", "#f0a51e", "#00e187", "#d20069", "#5a692d", "#e187ff", "#ffb4a5", "#4bd2d2", "#b42d00", "#b4d23c",
  "#874b69", "#2d5ad2", "#1e8700", "#d2b4f0", "#a5d296", "#a5692d", "#ff87c3", "#0f7869", "#a51e96", "#f06969",
];
const PAD = 14; // CSS px around the dots
const DOT = 4; // CSS px radius; rated movies and the hovered dot are larger
const REACH = { mouse: 12, pen: 12, touch: 24 }; // CSS px from a dot that still picks it

export const map = { points: [], clusters: [], hover: -1, isRated: () => false };

const colours = new Map(); // cluster label -> colour

export const colour = (cluster) => colours.get(cluster) || PALETTE[cluster % PALETTE.length];

// "Crime · Drama: 64% of its movies (23)" when the report says how well the name fits.
function legendText(c) {
  const name = c.name || `cluster ${c.label}`;
  const fit = typeof c.name_support === "number" ? `: ${Math.round(100 * c.name_support)}% of its movies` : "";
  return `${name}${fit} (${c.size})`;
}

export async function loadMap() {
  const status = $("map-status");
  status.textContent = "Computing clusters (first time only)…";
  try {
    const report = await api("GET", "/api/clusters");
    map.clusters = report.clusters;
    for (const c of report.clusters) if (c.color) colours.set(c.label, c.color);
    map.points = report.clusters.flatMap((c) => c.members.map((m) => ({ ...m, cluster: c.label })));
    const legend = report.clusters.map((c) =>
      el("li", {}, el("span", { class: "swatch", style: `background:${colour(c.label)}` }), legendText(c)),
    );
    $("map-legend").replaceChildren(...legend);
    const layout = { tsne: "t-SNE", pca: "PCA" }[report.layout];
    status.textContent =
      `${map.points.length} movies rated at least ${report.min_ratings} times, in ${report.k} clusters ` +
      `(genre purity ${report.purity.value.toFixed(2)}, random clusterings ${report.purity.random_mean.toFixed(2)})` +
      (layout ? `; ${layout} map.` : ".");
    drawMap();
  } catch (error) {
    status.textContent = `No map: ${error.message}`;
  }
}

export function drawMap() {
  const canvas = $("map");
  const rect = canvas.getBoundingClientRect();
  if (!rect.width) return; // not laid out (hidden)
  const ratio = window.devicePixelRatio || 1;
  const [width, height] = [rect.width, rect.height];
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  if (!map.points.length) return;
  const xs = map.points.map((p) => p.x);
  const ys = map.points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  for (const p of map.points) {
    p.cx = PAD + ((p.x - x0) / (x1 - x0 || 1)) * (width - 2 * PAD);
    p.cy = height - PAD - ((p.y - y0) / (y1 - y0 || 1)) * (height - 2 * PAD);
  }
  ctx.lineWidth = 0.75;
  map.points.forEach((p, i) => {
    const rated = map.isRated(p.movie_id);
    ctx.beginPath();
    ctx.arc(p.cx, p.cy, i === map.hover ? DOT + 3 : rated ? DOT + 1.5 : DOT, 0, 2 * Math.PI);
    ctx.fillStyle = colour(p.cluster);
    ctx.globalAlpha = i === map.hover || rated ? 1 : 0.8;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.strokeStyle = rated || i === map.hover ? "#1d1f24" : "rgba(29, 31, 36, 0.45)";
    ctx.lineWidth = rated || i === map.hover ? 2 : 0.75;
    ctx.stroke();
  });
  drawLabels(ctx, width, height);
}

// Each cluster's name at the median of its dots, on a light halo; a label that would overlap
// one already drawn moves down a line or two, or is left out (the legend still names it).
function drawLabels(ctx, width, height) {
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  ctx.font = "600 12px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.lineJoin = "round";
  const placed = [];
  for (const c of map.clusters) {
    const members = map.points.filter((p) => p.cluster === c.label);
    if (!members.length) continue;
    const text = c.name || `cluster ${c.label}`;
    const w = ctx.measureText(text).width + 8;
    const cx = Math.min(Math.max(median(members.map((p) => p.cx)), w / 2), width - w / 2);
    const cy0 = median(members.map((p) => p.cy));
    const spot = [0, 16, -16, 32, -32]
      .map((dy) => Math.min(Math.max(cy0 + dy, 9), height - 9))
      .find((cy) => !placed.some((b) => Math.abs(b.cx - cx) < (b.w + w) / 2 && Math.abs(b.cy - cy) < 16));
    if (spot === undefined) continue;
    placed.push({ cx, cy: spot, w });
    ctx.strokeStyle = "rgba(252, 251, 248, 0.92)";
    ctx.lineWidth = 4;
    ctx.strokeText(text, cx, spot);
    ctx.fillStyle = "#1d1f24";
    ctx.fillText(text, cx, spot);
  }
}

function nearestPoint(event) {
  const rect = $("map").getBoundingClientRect();
  const x = event.clientX - rect.left;
  const y = event.clientY - rect.top;
  let best = -1;
  let bestDistance = (REACH[event.pointerType] || REACH.mouse) ** 2;
  map.points.forEach((p, i) => {
    const d = (p.cx - x) ** 2 + (p.cy - y) ** 2;
    if (d < bestDistance) {
      best = i;
      bestDistance = d;
    }
  });
  return best;
}

function showTip(i, event) {
  const tip = $("map-tip");
  if (i !== map.hover) {
    map.hover = i;
    drawMap();
  }
  if (i < 0) {
    tip.hidden = true;
    return;
  }
  const rect = $("map").getBoundingClientRect();
  tip.textContent = map.points[i].title;
  tip.hidden = false;
  const x = event.clientX - rect.left;
  tip.style.left = `${Math.max(0, Math.min(x + 12, rect.width - tip.offsetWidth))}px`;
  tip.style.top = `${event.clientY - rect.top + 14}px`;
}

// openMovie(movieId) opens a clicked or tapped dot; isRated(movieId) marks the visitor's movies.
export function setupMap(openMovie, isRated) {
  map.isRated = isRated;
  const canvas = $("map");
  canvas.addEventListener("pointermove", (event) => {
    if (event.pointerType !== "touch") showTip(nearestPoint(event), event);
  });
  canvas.addEventListener("pointerleave", () => showTip(-1));
  canvas.addEventListener("click", (event) => {
    const i = nearestPoint(event); // a tap is a click with pointerType "touch": a wider reach
    showTip(i, event);
    if (i >= 0) openMovie(map.points[i].movie_id);
  });
  new ResizeObserver(() => drawMap()).observe(canvas);
}
