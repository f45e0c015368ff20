// The output page: the player's frames from /ws/output, centred and scaled on a black screen.
//
// Binary messages carry a 16-byte little-endian header (b"LWF1", u32 generation, u32 index,
// u16 width, u16 height) and a JPEG; text messages are the player's status ({"type": "playback"}).
// Only the newest frame is drawn: one arriving while another is decoded replaces the waiting one.
// Double-click (or F11) for full screen; the cursor hides when the mouse rests. Query options:
// ?hud=1 shows the animation, frame and state; ?pixelated=1 scales without smoothing.

const HEADER_BYTES = 16;
const MAGIC = [0x4c, 0x57, 0x46, 0x31]; // "LWF1"
const params = new URLSearchParams(location.search);
const canvas = document.getElementById("output");
const hud = document.getElementById("hud");
const ctx = canvas.getContext("2d", { alpha: false });
const body = document.body;

let bitmap = null; // the frame on screen
let waiting = null; // the newest frame not yet decoded
let decoding = false;
let frames = 0;
let status = {};

hud.hidden = params.get("hud") !== "1";

function decode(buffer) {
  if (buffer.byteLength < HEADER_BYTES) return null;
  const view = new DataView(buffer);
  for (let i = 0; i < 4; i++) if (view.getUint8(i) !== MAGIC[i]) return null;
  return {
    generation: view.getUint32(4, true),
    index: view.getUint32(8, true),
    blob: new Blob([new Uint8Array(buffer, HEADER_BYTES)], { type: "image/jpeg" }),
  };
}

function resize() {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(window.innerWidth * ratio);
  canvas.height = Math.round(window.innerHeight * ratio);
  draw();
}

function draw() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!bitmap) return;
  const scale = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
  const w = Math.round(bitmap.width * scale);
  const h = Math.round(bitmap.height * scale);
  ctx.imageSmoothingEnabled = params.get("pixelated") !== "1";
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, Math.floor((canvas.width - w) / 2), Math.floor((canvas.height - h) / 2), w, h);
}

async function show() {
  if (decoding) return;
  decoding = true;
  try {
    while (waiting) {
      const frame = waiting;
      waiting = null;
      let next;
      try {
        next = await createImageBitmap(frame.blob);
      } catch {
        continue; // a damaged frame: wait for the next one
      }
      if (bitmap) bitmap.close();
      bitmap = next;
      draw();
      frames += 1;
      body.dataset.frame = String(frame.index);
      body.dataset.generation = String(frame.generation);
      body.dataset.frames = String(frames);
      updateHud();
    }
  } finally {
    decoding = false;
  }
}

function updateHud() {
  if (hud.hidden) return;
  const where = status.name ? `${status.name}  ${body.dataset.frame ?? "-"} / ${status.total ?? "-"}` : "-";
  hud.textContent = `${where}\n${status.state ?? "idle"}  ${status.fps ?? ""} fps  x${status.speed ?? 1}` +
    `  dropped ${status.counters?.dropped ?? 0}`;
}

function connect(delay = 500) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/output`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    body.dataset.connection = "online";
    delay = 500;
  };
  ws.onmessage = (event) => {
    if (typeof event.data === "string") {
      try {
        status = JSON.parse(event.data);
      } catch {
        return;
      }
      body.dataset.state = status.state ?? "idle";
      updateHud();
      return;
    }
    const frame = decode(event.data);
    if (!frame) return;
    waiting = frame;
    show();
  };
  ws.onclose = () => {
    body.dataset.connection = "offline";
    setTimeout(() => connect(Math.min(delay * 2, 5000)), delay);
  };
}

let idleTimer = 0;
function wake() {
  body.classList.remove("idle");
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => body.classList.add("idle"), 2000);
}

window.addEventListener("resize", resize);
window.addEventListener("mousemove", wake);
canvas.addEventListener("dblclick", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch(() => {});
});
resize();
wake();
connect();
