// The cluster map: movies as dots on a canvas, coloured by cluster; hover names a dot, a click
// opens it. The page tells it which movies are rated and what opening a movie does.
import { api } from "./api.js";
import { $, el } from "./dom.js";

// Tableau 10: distinguishable colours, also for most colour-blind visitors.
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
export const map = { points: [], scale: null, hover: -1, isRated: () => false };

export async function loadMap() {
  const status = $("map-status");
  status.textContent = "Computing clusters (first time only)…";
  try {
    const report = await api("GET", "/api/clusters");
    map.points = report.clusters.flatMap((c) => c.members.map((m) => ({ ...m, cluster: c.label })));
    const legend = report.clusters.map((c) =>
      el("li", {}, el("span", { class: "swatch", style: `background:${PALETTE[c.label % PALETTE.length]}` }), `${c.name || "cluster " + c.label} (${c.size})`),
    );
    $("map-legend").replaceChildren(...legend);
    status.textContent = `${map.points.length} movies rated at least ${report.min_ratings} times, in ${report.k} clusters (genre purity ${report.purity.value.toFixed(2)}, random clusterings ${report.purity.random_mean.toFixed(2)}).`;
    drawMap();
  } catch (error) {
    status.textContent = `No map: ${error.message}`;
  }
}

export function drawMap() {
  const canvas = $("map");
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  if (!map.points.length) return;
  const xs = map.points.map((p) => p.x);
  const ys = map.points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 16;
  map.scale = (p) => [pad + ((p.x - x0) / (x1 - x0 || 1)) * (width - 2 * pad), height - pad - ((p.y - y0) / (y1 - y0 || 1)) * (height - 2 * pad)];
  map.points.forEach((p, i) => {
    const [cx, cy] = map.scale(p);
    p.cx = cx;
    p.cy = cy;
    const rated = map.isRated(p.movie_id);
    ctx.beginPath();
    ctx.arc(cx, cy, i === map.hover ? 6 : rated ? 5 : 3, 0, 2 * Math.PI);
    ctx.fillStyle = PALETTE[p.cluster % PALETTE.length];
    ctx.globalAlpha = i === map.hover || rated ? 1 : 0.6;
    ctx.fill();
    if (rated) {
      ctx.strokeStyle = "#1d1f24";
      ctx.stroke();
    }
  });
  ctx.globalAlpha = 1;
}

function nearestPoint(event) {
  const canvas = $("map");
  const rect = canvas.getBoundingClientRect();
  const x = ((event.clientX - rect.left) * canvas.width) / rect.width;
  const y = ((event.clientY - rect.top) * canvas.height) / rect.height;
  let best = -1;
  let bestDistance = 10 * 10 * (canvas.width / rect.width) ** 2;
  map.points.forEach((p, i) => {
    const d = (p.cx - x) ** 2 + (p.cy - y) ** 2;
    if (d < bestDistance) {
      best = i;
      bestDistance = d;
    }
  });
  return best;
}

// openMovie(movieId) opens a clicked dot; isRated(movieId) marks the visitor's movies.
export function setupMap(openMovie, isRated) {
  map.isRated = isRated;
  const canvas = $("map");
  const tip = $("map-tip");
  canvas.addEventListener("mousemove", (event) => {
    const i = nearestPoint(event);
    if (i !== map.hover) {
      map.hover = i;
      drawMap();
    }
    if (i < 0) {
      tip.hidden = true;
      return;
    }
    const p = map.points[i];
    const rect = canvas.getBoundingClientRect();
    tip.textContent = p.title;
    tip.hidden = false;
    tip.style.left = `${Math.min(event.clientX - rect.left + 12, rect.width - 160)}px`;
    tip.style.top = `${event.clientY - rect.top + 12}px`;
  });
  canvas.addEventListener("mouseleave", () => {
    tip.hidden = true;
    map.hover = -1;
    drawMap();
  });
  canvas.addEventListener("click", (event) => {
    const i = nearestPoint(event);
    if (i >= 0) openMovie(map.points[i].movie_id);
  });
}
