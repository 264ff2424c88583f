// A rating control: five stars, each split into a left and a right half button, so every half
// star of the scale is one click (or one Enter) away. The stars are drawn with CSS clip-path
// (an outline and a fill), not font glyphs, so halves line up in every font.
import { el } from "./dom.js";

const label = (value) => `${value} star${value === 1 ? "" : "s"}`;

// value: the stored stars (0 when unrated); scale: [lowest, highest] of the model.
export function starRow(movie, value, scale, { onRate, onRemove } = {}) {
  const group = el("div", { class: "stars", role: "group", "aria-label": `Your rating of ${movie.title}` });
  for (let s = 1; s <= 5; s++) {
    const star = el("span", { class: "star" });
    for (const half of [s - 0.5, s]) {
      const side = half < s ? "left" : "right";
      star.append(
        el(
          "button",
          {
            type: "button",
            class: `half ${side}${value >= half ? " on" : ""}`,
            "data-stars": half,
            "aria-label": `Rate ${movie.title} ${label(half)}`,
            "aria-pressed": value === half ? "true" : "false",
            title: label(half),
            disabled: half < scale[0] || half > scale[1],
            onclick: () => onRate(movie, half),
          },
          el("span", { class: "glyph", "aria-hidden": "true" }),
        ),
      );
    }
    group.append(star);
  }
  if (onRemove) {
    group.append(el("button", { type: "button", class: "remove", "aria-label": `Remove your rating of ${movie.title}`, text: "Remove", onclick: () => onRemove(movie) }));
  }
  return group;
}
