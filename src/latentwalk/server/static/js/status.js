// What the page says about itself: the status bar, the error line, the "server gone" banner, and
// <body data-state/data-render/data-connection> that styles (and tests) key on.

import { describeModel } from "./modelpicker.js";
import { progressLine } from "./transport.js";

const $ = (id) => document.getElementById(id);

const el = {
  body: document.body,
  banner: $("banner"),
  error: $("error"),
  errorText: $("error-text"),
  errorClose: $("error-close"),
  statusModel: $("status-model"),
  statusRender: $("status-render"),
};

export function mountStatus({ store }) {
  el.errorClose.addEventListener("click", () => store.set({ error: null }));

  function update(state, prev) {
    if (!prev || state.modelStatus !== prev.modelStatus) el.body.dataset.state = state.modelStatus;
    if (!prev || state.render !== prev.render) {
      el.body.dataset.render = state.render?.status ?? "none";
      el.body.dataset.renderId = String(state.render?.id ?? "");
      el.body.dataset.frames = String(state.render?.total ?? 0);
    }
    if (!prev || state.connection !== prev.connection) {
      el.body.dataset.connection = state.connection;
      const gone = state.connection === "offline";
      el.banner.hidden = !gone;
      el.banner.textContent = gone
        ? "The server is not answering. Frames already here can still be played; reconnecting…"
        : "";
    }
    if (!prev || state.error !== prev.error) {
      el.error.hidden = !state.error;
      el.errorText.textContent = state.error?.message ?? "";
      if (state.error?.type) el.error.dataset.type = state.error.type;
      else delete el.error.dataset.type;
    }
    if (!prev || state.model !== prev.model || state.modelStatus !== prev.modelStatus) {
      const m = state.model;
      el.statusModel.textContent =
        state.modelStatus === "error"
          ? "no model"
          : m
            ? `${m.name}${m.snapshot ? ` @ ${m.snapshot}` : ""} · ${describeModel(m)}`
            : "loading model…";
    }
    if (!prev || state.render !== prev.render || state.arrived !== prev.arrived || state.animationName !== prev.animationName) {
      const r = state.render;
      const name = state.animationName ? `“${state.animationName}” · ` : "";
      el.statusRender.textContent = r ? `${name}${r.status === "rendering" ? "rendering " : ""}${progressLine(r, state.arrived)}` : name.replace(/ · $/, "");
    }
  }

  store.subscribe(update);
  update(store.get(), null);
}
