// movierec web page: search and rate movies, recommendations after each rating, the cluster map.
// ES modules, no dependencies, no external requests: api.js talks to the server, dom.js builds
// elements, stars.js is the rating control, map.js draws the cluster map. The profile id (the
// only key to the stored ratings) lives in localStorage so a reload keeps them.
import { api } from "./api.js";
import { $, describe, el } from "./dom.js";
import { loadMap, map, setupMap } from "./map.js";
import { starRow } from "./stars.js";

const PROFILE_KEY = "movierec.profile";
const PAGE = 10;
const STARTERS = 8; // well-known movies offered until the visitor has rated this many
const state = {
  profileId: localStorage.getItem(PROFILE_KEY),
  ratings: new Map(), // movie_id -> {movie, rating}
  scale: [0.5, 5],
  query: "",
  offset: 0,
  recsVersion: 0,
  popular: [], // most rated movies, for the starters
};
window.movierec = { state, map }; // for the browser console and the browser tests

// -- movie rows ----------------------------------------------------------------------------------
function titleButton(movie) {
  return el("button", { class: "title-button", type: "button", text: movie.title, onclick: () => openMovie(movie.movie_id) });
}

// The star row of a movie; its pressed state mirrors the stored rating.
function stars(movie, { removable = false } = {}) {
  const current = state.ratings.get(movie.movie_id);
  return starRow(movie, current ? current.rating : 0, state.scale, { onRate: rate, onRemove: removable ? unrate : null });
}

function movieItem(movie, extra = {}) {
  const info = el("div", {}, titleButton(movie), el("p", { class: "meta", text: describe(movie) }));
  const li = el("li", { "data-movie-id": movie.movie_id }, info, extra.right || stars(movie, extra));
  if (extra.below) li.append(extra.below);
  li._movie = movie; // star rows are redrawn from it when ratings change
  return li;
}

// -- profile and ratings -------------------------------------------------------------------
function applyProfile(profile) {
  state.ratings = new Map(profile.ratings.map((r) => [r.movie_id, { movie: r, rating: r.rating }]));
  renderRatings();
  renderStarters();
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
    $("recs-status").textContent = `Could not save the rating: ${error.message}`;
  }
}

async function unrate(movie) {
  try {
    applyProfile(await api("DELETE", `/api/profiles/${encodeURIComponent(state.profileId)}/ratings/${movie.movie_id}`));
    refreshRecommendations();
  } catch (error) {
    $("recs-status").textContent = `Could not remove the rating: ${error.message}`;
  }
}

function renderRatings() {
  const items = [...state.ratings.values()].reverse(); // newest first
  $("ratings").replaceChildren(...items.map(({ movie }) => movieItem(movie, { removable: true })));
  $("ratings-count").textContent = items.length ? `(${items.length})` : "";
  $("ratings-empty").hidden = items.length > 0;
}

// Star rows elsewhere on the page (search results, starters, recommendations, dialog) follow the ratings.
function rerenderStars() {
  for (const group of document.querySelectorAll("#search-results .stars, #starters .stars, #recs .stars, #movie-rate .stars, #movie-similar .stars")) {
    const li = group.closest("[data-movie-id]");
    const movie = li && li._movie;
    if (movie) group.replaceWith(stars(movie));
  }
}

// -- starters: well-known movies to rate on a new profile ------------------------------------
async function loadStarters() {
  try {
    state.popular = (await api("GET", `/api/movies/popular?limit=${3 * STARTERS}`)).results;
  } catch (error) {
    state.popular = [];
  }
  renderStarters();
}

function renderStarters() {
  const show = state.ratings.size < STARTERS && state.popular.length > 0;
  $("starters-section").hidden = !show;
  if (!show) return;
  const unrated = state.popular.filter((movie) => !state.ratings.has(movie.movie_id)).slice(0, STARTERS);
  $("starters").replaceChildren(...unrated.map((movie) => movieItem(movie)));
}

// -- search ----------------------------------------------------------------------------------
function setPager(offset, more) {
  $("search-pager").hidden = offset === 0 && !more;
  $("search-prev").disabled = offset === 0;
  $("search-next").disabled = !more;
}

async function search(offset = 0) {
  const query = $("search-input").value.trim();
  const status = $("search-status");
  if (!query) {
    $("search-results").replaceChildren();
    setPager(0, false);
    status.textContent = "";
    return;
  }
  state.query = query;
  state.offset = offset;
  try {
    // One movie more than a page says whether "More results" has anything to show.
    const page = await api("GET", `/api/movies?q=${encodeURIComponent(query)}&limit=${PAGE + 1}&offset=${offset}`);
    if (query !== state.query) return; // a newer search is on its way
    const found = page.results.slice(0, PAGE);
    const shown = found.length ? found : page.suggestions;
    $("search-results").replaceChildren(...shown.map((movie) => movieItem(movie)));
    if (found.length) status.textContent = "";
    else if (shown.length) status.textContent = `No movie matches “${query}”. Did you mean:`;
    else status.textContent = `No movie matches “${query}”.`;
    setPager(offset, page.results.length > PAGE);
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
  const explore = $("filter-explore");
  if (explore.dataset.touched) params.set("explore", explore.value); // else the model's default
  return params.toString();
}

function showExplore() {
  const explore = $("filter-explore");
  explore.dataset.touched = "true";
  $("explore-value").textContent = Number(explore.value).toFixed(1);
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
      return movieItem(rec, { below: because, right: el("div", { class: "right" }, predicted, stars(rec)) });
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
      $("movie-similar").replaceChildren(...similar.similar.map((s) => movieItem(s)));
    } catch (error) {
      $("movie-similar").replaceChildren(el("li", { class: "status", text: error.message }));
    }
  } catch (error) {
    $("movie-title").textContent = "Movie not found";
    $("movie-meta").textContent = error.message;
  }
}

// -- start -------------------------------------------------------------------------------------
async function start() {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(searchTimer); // the typing's search would redraw the results under the visitor
    search(0);
  });
  $("search-input").addEventListener("input", searchSoon);
  $("search-prev").addEventListener("click", () => search(Math.max(0, state.offset - PAGE)));
  $("search-next").addEventListener("click", () => search(state.offset + PAGE));
  $("filter-explore").addEventListener("input", showExplore);
  $("filters").addEventListener("change", refreshRecommendations);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  setupMap(openMovie, (movieId) => state.ratings.has(movieId));
  try {
    const health = await api("GET", "/api/health");
    state.scale = health.rating_scale;
    $("model-info").textContent = `${health.dataset} · ${health.model} · ${health.users.toLocaleString()} users, ${health.movies.toLocaleString()} movies`;
    $("filter-genre").append(...health.genres.filter((g) => !g.startsWith("(")).map((g) => el("option", { value: g, text: g })));
    $("filter-explore").value = health.explore;
    $("explore-value").textContent = `${health.explore.toFixed(1)} (default)`;
    $("explore-control").hidden = false;  // shown once the model's default is known
  } catch (error) {
    $("model-info").textContent = `Server not ready: ${error.message}`;
  }
  await Promise.all([loadProfile(), loadStarters()]);
  renderRatings();
  refreshRecommendations();
  loadMap();
  document.body.dataset.ready = "true";
}

start();
