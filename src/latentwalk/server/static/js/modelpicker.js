// The top bar: model and snapshot pickers (from /api/models), what the model is, the connection.

const $ = (id) => document.getElementById(id);

const el = {
  model: $("model-select"),
  snapshot: $("snapshot-select"),
  snapshotField: $("snapshot-field"),
  info: $("model-info"),
  connection: $("connection"),
};

export function describeModel(m) {
  if (!m) return "";
  const space = m.has_w ? `z ${m.z_dim} · w ${m.w_dim}` : `z ${m.z_dim}`;
  const classes = m.c_dim ? ` · ${m.c_dim} classes` : "";
  return `${m.resolution}×${m.resolution} · ${space}${classes}`;
}

function option(value, text, title = "") {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  if (title) o.title = title;
  return o;
}

export function mountModelPicker({ store, actions }) {
  el.model.addEventListener("change", () => {
    const entry = store.get().models.find((m) => m.name === el.model.value);
    const snapshots = entry?.snapshots ?? [];
    const latest = snapshots.length > 1 ? snapshots[snapshots.length - 1].label : null;
    actions.switchModel(el.model.value, latest).then(() => sync(store.get()));
  });
  el.snapshot.addEventListener("change", () => {
    actions.switchModel(el.model.value, el.snapshot.value || null).then(() => sync(store.get()));
  });

  // Put the pickers back on what is loaded (after a failed switch, for instance).
  function sync(state) {
    const m = state.model;
    const names = state.models.map((x) => x.name);
    const list = m && !names.includes(m.name) ? [...names, m.name] : names;
    const have = [...el.model.options].map((o) => o.value).join("\n");
    if (have !== list.join("\n")) {
      el.model.replaceChildren(
        ...list.map((name) => {
          const entry = state.models.find((x) => x.name === name);
          return option(name, name, entry?.description ?? "");
        }),
      );
    }
    if (m) el.model.value = m.name;
    else if (state.serverModel) el.model.value = state.serverModel;
    const entry = state.models.find((x) => x.name === el.model.value);
    const snapshots = entry?.snapshots ?? [];
    el.snapshotField.hidden = snapshots.length < 2; // a single file has nothing to choose
    el.snapshot.replaceChildren(
      ...snapshots.map((s) => option(s.label, s.kimg !== null && s.kimg !== undefined ? `${s.label} · ${s.kimg} kimg` : s.label)),
    );
    if (m?.snapshot) el.snapshot.value = m.snapshot;
    else if (snapshots.length) el.snapshot.value = snapshots[snapshots.length - 1].label;
    el.model.title = entry?.description ?? "";
  }

  function update(state, prev) {
    if (!prev || state.models !== prev.models || state.model !== prev.model || state.serverModel !== prev.serverModel) {
      sync(state);
    }
    if (!prev || state.model !== prev.model || state.modelStatus !== prev.modelStatus) {
      const busy = state.modelStatus === "switching" || state.modelStatus === "loading";
      el.model.disabled = busy || !state.models.length;
      el.snapshot.disabled = busy;
      el.info.textContent = state.modelStatus === "switching" ? `loading ${state.switchingTo}…` : describeModel(state.model);
    }
    if (!prev || state.connection !== prev.connection) {
      const text = { connecting: "connecting…", online: "connected", offline: "server not answering" };
      el.connection.textContent = text[state.connection];
      el.connection.dataset.status = state.connection;
    }
  }

  store.subscribe(update);
  update(store.get(), null);
}
