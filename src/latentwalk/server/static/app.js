// latentwalk explorer: builds the store, the sockets, the frame cache, the renderer and the
// playback clock, mounts the views, and starts. Each module has one concern (see js/).

import { createActions } from "./js/actions.js";
import { api } from "./js/api.js";
import { mountBookmarks } from "./js/bookmarks.js";
import { mountControls } from "./js/controls.js";
import { mountDirections } from "./js/directions.js";
import * as dialogs from "./js/dialogs.js";
import { mountExports } from "./js/exports.js";
import { FrameCache } from "./js/framecache.js";
import { mountLatentControls } from "./js/latentcontrols.js";
import { mountLibrary } from "./js/library.js";
import { mountLivePlayback } from "./js/live.js";
import { mountMixing } from "./js/mixing.js";
import { mountModelPicker } from "./js/modelpicker.js";
import { mountPrecision } from "./js/precision.js";
import { Previews, Renderer } from "./js/render.js";
import { mountSettings } from "./js/settings.js";
import { mountShortcuts } from "./js/shortcuts.js";
import { FrameSocket, socketUrl } from "./js/socket.js";
import { createStore, initialState } from "./js/state.js";
import { mountStatus } from "./js/status.js";
import { mountTabs } from "./js/tabs.js";
import { Playback } from "./js/timeline.js";
import { mountTransport } from "./js/transport.js";
import { mountViewer } from "./js/viewer.js";

const store = createStore(initialState());
const cache = new FrameCache();
const frames = new FrameSocket(socketUrl()); // the animation
const side = new FrameSocket(socketUrl()); // previews and thumbnails, never superseding the animation
const renderer = new Renderer({ store, socket: frames, cache });
const previews = new Previews({ socket: side });
const playback = new Playback({
  store,
  isReady: (i) => {
    const r = store.get().render;
    return Boolean(r) && cache.has(r.key, i);
  },
  total: () => store.get().render?.total ?? 0,
});
const actions = createActions({ store, api, renderer, previews, playback, dialogs });

// The connection: online while the animation socket is open. After a reconnect the page checks
// that the server still has the same model before it goes on with an interrupted render.
let offlineTimer = 0;
let opened = false;
frames.addEventListener("open", () => {
  clearTimeout(offlineTimer);
  store.set({ connection: "online" });
  side.retry();
  if (opened || store.get().modelStatus === "error") actions.reconnected();
  opened = true;
});
frames.addEventListener("close", () => {
  clearTimeout(offlineTimer);
  offlineTimer = setTimeout(() => store.set({ connection: "offline" }), 600);
});

const tabs = mountTabs();
mountStatus({ store });
mountModelPicker({ store, actions });
mountViewer({ store, cache });
mountTransport({ store, playback, actions });
mountControls({ store, actions, playback });
mountSettings({ store, actions });
mountPrecision({ store, actions, api });
mountLibrary({ store, actions, api });
mountExports({ store, api, dialogs });
mountBookmarks({ store, actions });
mountLivePlayback({ store, api, dialogs });
mountDirections({ store, actions });
mountShortcuts({ store, actions, playback, tabs });
mountLatentControls({ store, actions, api, dialogs });
mountMixing({ store, actions, api, dialogs });
actions.watchThumbs();

frames.open();
side.open();
actions.init();
