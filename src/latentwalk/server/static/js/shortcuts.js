// Keyboard shortcuts for the common actions, and the help overlay that lists them (?).

import { isDialogOpen } from "./dialogs.js";

const help = document.getElementById("help");
const helpList = document.getElementById("help-list");
const helpButton = document.getElementById("help-button");

// [keys shown, what it does]
const LIST = [
  ["Space", "play / pause"],
  ["← →", "previous / next frame (hold to keep going)"],
  ["Shift + ← →", "10 frames back / on"],
  ["Home End", "first / last frame"],
  ["[ ]", "slower / faster"],
  ["L", "loop playback on / off"],
  ["G", "generate animation"],
  ["S", "shuffle both (a new walk)"],
  ["D", "keep source, shuffle destination"],
  ["N", "use destination as next source"],
  ["F", "use this frame as next source"],
  ["B", "bookmark this frame"],
  ["H", "shadows on / off"],
  ["Ctrl + S", "save"],
  ["Esc", "cancel the render / close"],
  ["?", "this help"],
];

function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  if (target.tagName !== "INPUT") return false;
  return !["checkbox", "radio", "range", "button", "submit"].includes(target.type);
}

export function mountShortcuts({ store, actions, playback, tabs }) {
  helpList.replaceChildren(
    ...LIST.flatMap(([keys, what]) => {
      const dt = document.createElement("dt");
      for (const k of keys.split(" ")) {
        if (k === "+") {
          dt.append(" + ");
          continue;
        }
        const kbd = document.createElement("kbd");
        kbd.textContent = k;
        dt.append(kbd);
      }
      const dd = document.createElement("dd");
      dd.textContent = what;
      return [dt, dd];
    }),
  );

  const showHelp = (on) => {
    help.hidden = !on;
  };
  helpButton.addEventListener("click", () => showHelp(help.hidden));
  help.addEventListener("click", (event) => {
    if (event.target === help) showHelp(false);
  });

  document.addEventListener("keydown", (event) => {
    const key = event.key;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && key.toLowerCase() === "s") event.preventDefault(); // never the browser's "save page"
    if (isDialogOpen()) return;
    if (mod && key.toLowerCase() === "s") {
      tabs.show("tab-library");
      actions.save(document.getElementById("save-name").value);
      return;
    }
    if (key === "Escape") {
      if (!help.hidden) showHelp(false);
      else if (store.get().render?.status === "rendering") actions.cancel();
      else if (typing(event.target)) event.target.blur();
      return;
    }
    if (mod || event.altKey || typing(event.target)) return;
    // Keys that belong to a focused control stay with it: a slider's arrows, a radio group's
    // arrows, and Space on a control reached with the keyboard (after a mouse click, Space plays).
    const target = event.target instanceof Element ? event.target : null;
    const onSlider = target instanceof HTMLInputElement && target.type === "range";
    const onRadio = target instanceof HTMLInputElement && target.type === "radio";
    const keyboardFocus = Boolean(target?.matches(":focus-visible")) && target !== document.body;
    switch (key) {
      case " ":
        if (keyboardFocus && target.matches("button, input, select, label, [role='tab']")) return;
        event.preventDefault();
        playback.toggle();
        break;
      case "ArrowLeft":
      case "ArrowRight": {
        if (onRadio || (onSlider && target.id !== "frame-slider")) return;
        event.preventDefault();
        const dir = key === "ArrowLeft" ? -1 : 1;
        if (event.shiftKey) {
          playback.pause();
          playback.step(dir * 10);
        } else if (!event.repeat) {
          playback.hold(dir);
        }
        break;
      }
      case "Home":
        event.preventDefault();
        playback.pause();
        playback.seek(0);
        break;
      case "End":
        event.preventDefault();
        playback.pause();
        playback.seek(Infinity);
        break;
      case "[":
        playback.slower();
        break;
      case "]":
        playback.faster();
        break;
      case "?":
        showHelp(help.hidden);
        break;
      default: {
        const k = key.toLowerCase();
        const act = {
          g: () => actions.generate(),
          s: () => actions.shuffleBoth(),
          d: () => actions.keepSourceShuffleDestination(),
          n: () => actions.nextFromDestination(),
          f: () => actions.nextFromFrame(),
          b: () => actions.bookmarkFrame(),
          l: () => store.set({ repeat: !store.get().repeat }),
          h: () => {
            const vf = store.get().settings.view_filter;
            actions.setSettings({ view_filter: { kind: vf.kind === "shadows" ? "none" : "shadows" } });
          },
        }[k];
        if (act && !event.repeat) {
          event.preventDefault();
          act();
        }
      }
    }
  });

  document.addEventListener("keyup", (event) => {
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") playback.release();
  });
  window.addEventListener("blur", () => playback.release());
}
