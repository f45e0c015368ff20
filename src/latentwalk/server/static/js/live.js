// The Playback panel: live playback on the output (docs/explorer-api.md, "Live playback"). Choose
// saved animations to play as a chain, Play / Pause-Resume / Stop, speed, fps and loop, a status
// line polled from the server, the output page, and MIDI learn for these controls.

const $ = (id) => document.getElementById(id);

const el = {
  panel: $("playback-panel"),
  list: $("pb-list"),
  empty: $("pb-empty"),
  play: $("pb-play"),
  pause: $("pb-pause"),
  stop: $("pb-stop"),
  output: $("pb-output"),
  speed: $("pb-speed"),
  fps: $("pb-fps"),
  loop: $("pb-loop"),
  status: $("pb-status"),
  error: $("pb-error"),
  midiProblem: $("midi-problem"),
  learn: $("midi-learn"),
  bindings: $("midi-bindings"),
  midiEmpty: $("midi-empty"),
};

const POLL_MS = 400;
const MIDI_POLL_MS = 500;

// The controls of this panel that MIDI can learn: [control, label, needs the chosen names].
const LEARNABLE = [
  ["play", "Play", true],
  ["toggle-pause", "Pause / Resume", false],
  ["stop", "Stop", false],
  ["speed", "Speed", false],
  ["fps", "fps", false],
  ["loop", "Loop", false],
];

function describe(status, achieved) {
  if (!status) return "…";
  const parts = [status.state];
  if (status.name) parts[0] += ` ${status.name}`;
  if (status.names?.length > 1) parts.push(`chain of ${status.names.length}`);
  if (status.total) parts.push(`frame ${status.index ?? 0} / ${status.total}`);
  if (status.state === "playing" && achieved !== null) parts.push(`${achieved.toFixed(1)} fps`);
  else if (status.fps) parts.push(`${status.fps} fps set`);
  const dropped = status.counters?.dropped;
  if (dropped !== undefined) parts.push(`${dropped} dropped`);
  if (status.behind) parts.push("behind");
  if (status.error) parts.push(`error: ${status.error}`);
  return parts.join(" · ");
}

function bindingText(b) {
  const source = b.source === "note" ? `note ${b.number}` : `CC ${b.number}`;
  const arg = b.arg ? ` (${b.arg})` : "";
  return `${source} · ch ${b.channel + 1} → ${b.control}${arg}`;
}

export function mountLivePlayback({ store, api, dialogs }) {
  const chosen = new Set(); // names checked for the chain, in library order
  let status = null;
  let midi = null;
  let armed = null; // the control being learned, as this page armed it
  let last = null; // {t, presented} for the achieved fps
  let achieved = null;
  let pollTimer = 0;
  let midiTimer = 0;

  function fail(error, context) {
    const message = `${context}: ${error.message}`;
    el.error.textContent = message;
    el.error.hidden = false;
    dialogs.toast(message, "error");
  }

  function clearError() {
    el.error.hidden = true;
    el.error.textContent = "";
  }

  // ---------------------------------------------------------------- the chain

  function renderList() {
    const entries = store.get().library ?? [];
    const names = new Set(entries.map((e) => e.name));
    for (const n of [...chosen]) if (!names.has(n)) chosen.delete(n);
    el.list.replaceChildren(
      ...entries.map((entry) => {
        const li = document.createElement("li");
        li.className = "pb-item";
        li.dataset.name = entry.name;
        const label = document.createElement("label");
        label.className = "check";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.value = entry.name;
        box.checked = chosen.has(entry.name);
        const name = document.createElement("span");
        name.textContent = entry.name;
        const meta = document.createElement("span");
        meta.className = "meta";
        meta.textContent = `${entry.frames} frames`;
        label.append(box, name);
        li.append(label, meta);
        return li;
      }),
    );
    el.empty.hidden = store.get().library === null || entries.length > 0;
    showButtons();
  }

  function chain() {
    const order = (store.get().library ?? []).map((e) => e.name);
    return order.filter((n) => chosen.has(n));
  }

  el.list.addEventListener("change", (event) => {
    const box = event.target.closest('input[type="checkbox"]');
    if (!box) return;
    if (box.checked) chosen.add(box.value);
    else chosen.delete(box.value);
    showButtons();
  });

  // ---------------------------------------------------------------- commands

  async function command(name, fields = {}, context = `could not ${name}`) {
    try {
      status = await api.playbackCommand(name, fields);
      clearError();
      showStatus();
      schedule(0);
      return status;
    } catch (error) {
      fail(error, context);
      return null;
    }
  }

  el.play.addEventListener("click", () => {
    const names = chain();
    if (!names.length) return;
    last = null;
    achieved = null;
    command("play", { names, loop: el.loop.checked }, `could not play ${names.join(", ")}`);
  });
  el.stop.addEventListener("click", () => command("stop"));
  el.pause.addEventListener("click", () => command(status?.state === "paused" ? "resume" : "pause"));
  el.loop.addEventListener("change", () => command("loop", { on: el.loop.checked }, "could not set loop"));
  el.speed.addEventListener("change", () => {
    const factor = Number(el.speed.value);
    if (el.speed.value !== "" && Number.isFinite(factor)) command("speed", { factor }, "could not set the speed");
  });
  el.fps.addEventListener("change", () => {
    const fps = Number(el.fps.value);
    if (el.fps.value !== "" && Number.isFinite(fps)) command("fps", { fps }, "could not set the fps");
  });
  el.output.addEventListener("click", (event) => {
    event.preventDefault();
    window.open("/output", "latentwalk-output", "popup,width=960,height=960");
  });

  // ---------------------------------------------------------------- status

  function showButtons() {
    const state = status?.state ?? "idle";
    el.play.disabled = chain().length === 0;
    el.stop.disabled = !["playing", "paused"].includes(state);
    el.pause.disabled = !["playing", "paused"].includes(state);
    el.pause.textContent = state === "paused" ? "Resume" : "Pause";
  }

  function showStatus() {
    el.status.dataset.state = status?.state ?? "idle";
    el.status.textContent = describe(status, achieved);
    el.status.title = el.status.textContent;
    if (status) {
      if (document.activeElement !== el.speed && status.speed !== undefined) el.speed.value = String(status.speed);
      if (document.activeElement !== el.fps && status.fps !== undefined) el.fps.value = String(status.fps);
      if (typeof status.loop === "boolean") el.loop.checked = status.loop;
    }
    showButtons();
  }

  function measure() {
    const presented = status?.counters?.presented;
    if (status?.state !== "playing" || presented === undefined) {
      last = null;
      achieved = null;
      return;
    }
    const t = performance.now();
    if (last && t - last.t >= 250) {
      achieved = ((presented - last.presented) * 1000) / (t - last.t);
      last = { t, presented };
    } else if (!last) {
      last = { t, presented };
    }
  }

  async function poll() {
    if (el.panel.hidden || document.hidden) return schedule(POLL_MS * 2);
    try {
      status = await api.playback();
      measure();
    } catch (error) {
      status = { state: "unknown", error: error.message };
    }
    showStatus();
    schedule(POLL_MS);
  }

  function schedule(ms) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, ms);
  }

  // ---------------------------------------------------------------- MIDI

  function renderMidi() {
    const problem = midi?.input?.problem ?? null;
    el.midiProblem.hidden = !problem;
    el.midiProblem.textContent = problem ? `MIDI input is unavailable: ${problem}` : "";
    el.learn.hidden = Boolean(problem) || !midi;
    const learning = midi?.learning?.control ?? null;
    el.learn.replaceChildren(
      ...LEARNABLE.map(([control, label]) => {
        const li = document.createElement("li");
        li.className = "midi-row";
        li.dataset.control = control;
        const name = document.createElement("span");
        name.textContent = label;
        const b = document.createElement("button");
        b.type = "button";
        b.className = "mini";
        b.dataset.control = control;
        const on = learning === control;
        b.textContent = on ? "Cancel" : "Learn";
        b.title = on ? "stop waiting for a control" : `bind the next knob or pad to ${label}`;
        const note = document.createElement("span");
        note.className = "meta";
        note.textContent = on ? "move a knob…" : "";
        li.append(name, note, b);
        return li;
      }),
    );
    const bindings = midi?.bindings ?? [];
    el.bindings.replaceChildren(
      ...bindings.map((b, i) => {
        const li = document.createElement("li");
        li.className = "midi-row";
        const text = document.createElement("span");
        text.textContent = bindingText(b);
        const rm = document.createElement("button");
        rm.type = "button";
        rm.className = "mini";
        rm.dataset.unbind = String(i);
        rm.textContent = "Remove";
        li.append(text, rm);
        return li;
      }),
    );
    el.midiEmpty.hidden = !midi || bindings.length > 0;
  }

  async function loadMidi() {
    clearTimeout(midiTimer);
    try {
      const before = midi?.bindings?.length ?? 0;
      midi = await api.midi();
      if (armed && !midi.learning) {
        if ((midi.bindings?.length ?? 0) > before) dialogs.toast(`MIDI control bound to ${armed}`);
        armed = null;
      }
    } catch (error) {
      fail(error, "could not read the MIDI bindings");
    }
    renderMidi();
    if (midi?.learning && !el.panel.hidden) midiTimer = setTimeout(loadMidi, MIDI_POLL_MS);
  }

  el.learn.addEventListener("click", async (event) => {
    const b = event.target.closest("button[data-control]");
    if (!b) return;
    const control = b.dataset.control;
    try {
      if (midi?.learning?.control === control) {
        await api.midiDisarm();
        armed = null;
      } else {
        const needsNames = LEARNABLE.find(([c]) => c === control)?.[2];
        const names = chain();
        if (needsNames && !names.length) throw new Error("check the animations to play first");
        await api.midiLearn(control, needsNames ? names.join(",") : null);
        armed = control;
      }
      clearError();
    } catch (error) {
      fail(error, `could not learn ${control}`);
    }
    loadMidi();
  });

  el.bindings.addEventListener("click", async (event) => {
    const b = event.target.closest("button[data-unbind]");
    if (!b) return;
    try {
      await api.midiUnbind(Number(b.dataset.unbind));
      clearError();
    } catch (error) {
      fail(error, "could not remove the binding");
    }
    loadMidi();
  });

  // The panel wakes up when it is shown: fresh status and MIDI state at once.
  new MutationObserver(() => {
    if (el.panel.hidden) return;
    schedule(0);
    loadMidi();
  }).observe(el.panel, { attributes: true, attributeFilter: ["hidden"] });

  store.subscribe((state, prev) => {
    if (!prev || state.library !== prev.library) renderList();
  });
  renderList();
  showStatus();
  schedule(0);
}
