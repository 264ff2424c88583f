// movierec web page: search and rate movies, recommendations after each rating, the cluster map.
// Plain JS, no dependencies, no external requests. The profile id (the only key to the stored
// ratings) lives in localStorage so a reload keeps them.
"use strict";

const PROFILE_KEY = "movierec.profile";
const PAGE = 10;
const state = {
  profileId: localStorage.getItem(PROFILE_KEY),
  ratings: new Map(), // movie_id -> {movie, rating}
  scale: [0.5, 5],
  query: "",
  offset: 0,
  recsVersion: 0,
};
const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.detail;
    const text = Array.isArray(detail) ? detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ") : detail;
    super(text || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// -- small DOM helpers (textContent only: titles never become HTML) --------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function describe(movie) {
  const parts = [];
  if (movie.year) parts.push(String(movie.year));
  if (movie.genres && movie.genres.length) parts.push(movie.genres.join(", "));
  return parts.join(" · ");
}

function titleButton(movie) {
  return el("button", { class: "title-button", type: "button", text: movie.title, onclick: () => openMovie(movie.movie_id) });
}

// A row of five star buttons; the pressed state mirrors the stored rating.
function stars(movie, { removable = false } = {}) {
  const current = state.ratings.get(movie.movie_id);
  const value = current ? current.rating : 0;
  const group = el("div", { class: "stars", role: "group", "aria-label": `Your rating of ${movie.title}` });
  for (let s = 1; s <= 5; s++) {
    const on = value >= s - 0.25;
    group.append(
      el("button", {
        type: "button",
        class: on ? "on" : "",
        "data-stars": s,
        "aria-label": `Rate ${movie.title} ${s} star${s > 1 ? "s" : ""}`,
        "aria-pressed": value === s ? "true" : "false",
        text: on ? "★" : "☆",
        onclick: () => rate(movie, s),
      }),
    );
  }
  if (removable) {
    group.append(el("button", { type: "button", class: "remove", "aria-label": `Remove your rating of ${movie.title}`, text: "Remove", onclick: () => unrate(movie) }));
  }
  return group;
}

function movieItem(movie, extra = {}) {
  const info = el("div", {}, titleButton(movie), el("p", { class: "meta", text: describe(movie) }));
  const li = el("li", { "data-movie-id": movie.movie_id }, info, extra.right || stars(movie, extra));
  if (extra.below) li.append(extra.below);
  return li;
}

// -- profile and ratings -------------------------------------------------------------------
function applyProfile(profile) {
  state.ratings = new Map(profile.ratings.map((r) => [r.movie_id, { movie: r, rating: r.rating }]));
  renderRatings();
  rerenderStars();
}

async function ensureProfile() {
  if (state.profileId) return state.profileId;
  const profile = await api("POST", "/api/profiles");
  state.profileId = profile.profile_id;
  localStorage.setItem(PROFILE_KEY, state.profileId);
  return state.profileId;
}

async function loadProfile() {
  if (!state.profileId) return;
  try {
    applyProfile(await api("GET", `/api/profiles/${encodeURIComponent(state.profileId)}`));
  } catch (error) {
    if (error.status === 404) {
      // The server no longer knows this profile (another database): start afresh.
      localStorage.removeItem(PROFILE_KEY);
      state.profileId = null;
    } else {
      throw error;
    }
  }
}

async function rate(movie, value) {
  try {
    const id = await ensureProfile();
    applyProfile(await api("PUT", `/api/profiles/${encodeURIComponent(id)}/ratings/${movie.movie_id}`, { rating: value }));
    refreshRecommendations();
  } catch (error) {
    flash($("recs-status"), `Could not save the rating: ${error.message}`);
  }
}

async function unrate(movie) {
  try {
    applyProfile(await api("DELETE", `/api/profiles/${encodeURIComponent(state.profileId)}/ratings/${movie.movie_id}`));
    refreshRecommendations();
  } catch (error) {
    flash($("recs-status"), `Could not remove the rating: ${error.message}`);
  }
}

function renderRatings() {
  const list = $("ratings");
  const items = [...state.ratings.values()].reverse(); // newest first
  list.replaceChildren(...items.map(({ movie }) => movieItem(movie, { removable: true })));
  $("ratings-count").textContent = items.length ? `(${items.length})` : "";
  $("ratings-empty").hidden = items.length > 0;
}

// Star rows elsewhere on the page (search results, recommendations, dialog) follow the ratings.
function rerenderStars() {
  for (const group of document.querySelectorAll("#search-results .stars, #recs .stars, #movie-rate .stars, #movie-similar .stars")) {
    const li = group.closest("[data-movie-id]");
    const movie = li && li._movie;
    if (movie) group.replaceWith(stars(movie));
  }
}

function flash(node, text) {
  node.textContent = text;
}

// -- search ----------------------------------------------------------------------------------
async function search(offset = 0) {
  const query = $("search-input").value.trim();
  const status = $("search-status");
  if (!query) {
    $("search-results").replaceChildren();
    $("search-pager").hidden = true;
    status.textContent = "";
    return;
  }
  state.query = query;
  state.offset = offset;
  try {
    const page = await api("GET", `/api/movies?q=${encodeURIComponent(query)}&limit=${PAGE}&offset=${offset}`);
    if (query !== state.query) return; // a newer search is on its way
    const items = page.results.map((movie) => {
      const li = movieItem(movie);
      li._movie = movie;
      return li;
    });
    $("search-results").replaceChildren(...items);
    status.textContent = page.results.length ? "" : `No movie matches “${query}”.`;
    $("search-pager").hidden = offset === 0 && page.results.length < PAGE;
    $("search-prev").disabled = offset === 0;
    $("search-next").disabled = page.results.length < PAGE;
  } catch (error) {
    status.textContent = `Search failed: ${error.message}`;
  }
}

let searchTimer = null;
function searchSoon() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => search(0), 250);
}

// -- recommendations -------------------------------------------------------------------------
function filterQuery() {
  const params = new URLSearchParams({ n: "10" });
  const genre = $("filter-genre").value;
  if (genre) params.append("genres", genre);
  const from = $("filter-from").value;
  const to = $("filter-to").value;
  if (from) params.set("year_from", from);
  if (to) params.set("year_to", to);
  return params.toString();
}

async function refreshRecommendations() {
  const status = $("recs-status");
  const list = $("recs");
  if (!state.profileId || state.ratings.size === 0) {
    list.replaceChildren();
    status.textContent = "Rate a movie to get recommendations.";
    return;
  }
  const version = ++state.recsVersion;
  status.textContent = "Updating…";
  try {
    const data = await api("GET", `/api/profiles/${encodeURIComponent(state.profileId)}/recommendations?${filterQuery()}`);
    if (version !== state.recsVersion) return;
    const items = data.recommendations.map((rec) => {
      const because = rec.because.length
        ? el("p", { class: "because", text: "Because you rated " + rec.because.map((b) => `${b.title} (${b.rating}★)`).join(", ") })
        : null;
      const predicted = el("div", { class: "predicted" });
      if (rec.predicted_rating !== null) predicted.append("predicted ", el("b", { text: `${rec.predicted_rating.toFixed(1)}★` }));
      const li = movieItem(rec, { below: because, right: el("div", { class: "right" }, predicted, stars(rec)) });
      li._movie = rec;
      return li;
    });
    list.replaceChildren(...items);
    status.textContent = items.length
      ? `Based on your ${state.ratings.size} rating${state.ratings.size > 1 ? "s" : ""}. Rate one to refine.`
      : "No movie matches these filters.";
  } catch (error) {
    if (version === state.recsVersion) status.textContent = `Could not get recommendations: ${error.message}`;
  }
}

// -- the movie dialog --------------------------------------------------------------------------
async function openMovie(movieId) {
  const dialog = $("movie-dialog");
  $("movie-title").textContent = "Loading…";
  $("movie-meta").textContent = "";
  $("movie-rate").replaceChildren();
  $("movie-similar").replaceChildren();
  if (!dialog.open) dialog.showModal();
  try {
    const movie = await api("GET", `/api/movies/${movieId}`);
    $("movie-title").textContent = movie.title;
    const rated = movie.n_ratings ? `${movie.n_ratings} ratings, mean ${movie.mean_rating.toFixed(2)}★` : "no ratings yet";
    $("movie-meta").textContent = [describe(movie), rated].filter(Boolean).join(" · ");
    const holder = el("div", { "data-movie-id": movie.movie_id });
    holder._movie = movie;
    holder.append(el("span", { class: "meta", text: "Your rating: " }), stars(movie));
    $("movie-rate").replaceChildren(holder);
    try {
      const similar = await api("GET", `/api/movies/${movieId}/similar?n=8&min_ratings=5`);
      $("movie-similar").replaceChildren(
        ...similar.similar.map((s) => {
          const li = movieItem(s);
          li._movie = s;
          return li;
        }),
      );
    } catch (error) {
      $("movie-similar").replaceChildren(el("li", { class: "status", text: error.message }));
    }
  } catch (error) {
    $("movie-title").textContent = "Movie not found";
    $("movie-meta").textContent = error.message;
  }
}

// -- the cluster map -----------------------------------------------------------------------------
// Tableau 10: distinguishable colours, also for most colour-blind visitors.
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const map = { points: [], scale: null, hover: -1 };

async function loadMap() {
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

function drawMap() {
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
    const rated = state.ratings.has(p.movie_id);
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

function setupMap() {
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

// -- start -------------------------------------------------------------------------------------
async function start() {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search(0);
  });
  $("search-input").addEventListener("input", searchSoon);
  $("search-prev").addEventListener("click", () => search(Math.max(0, state.offset - PAGE)));
  $("search-next").addEventListener("click", () => search(state.offset + PAGE));
  $("filters").addEventListener("change", refreshRecommendations);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  setupMap();
  try {
    const health = await api("GET", "/api/health");
    state.scale = health.rating_scale;
    $("model-info").textContent = `${health.dataset} · ${health.model} · ${health.users.toLocaleString()} users, ${health.movies.toLocaleString()} movies`;
    $("filter-genre").append(...health.genres.filter((g) => !g.startsWith("(")).map((g) => el("option", { value: g, text: g })));
  } catch (error) {
    $("model-info").textContent = `Server not ready: ${error.message}`;
  }
  await loadProfile();
  renderRatings();
  refreshRecommendations();
  loadMap();
  document.body.dataset.ready = "true";
}

start();
