// Small DOM helpers. Text goes in through textContent only: titles never become HTML.

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
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

// "1999 · Action, Sci-Fi"
export function describe(movie) {
  const parts = [];
  if (movie.year) parts.push(String(movie.year));
  if (movie.genres && movie.genres.length) parts.push(movie.genres.join(", "));
  return parts.join(" · ");
}
