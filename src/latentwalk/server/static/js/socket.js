// The WebSocket to /ws: JSON messages both ways, binary frames from the server, and reconnection.
//
// A binary frame is a 16-byte little-endian header, b"LWF1", u32 id, u32 index, u16 width,
// u16 height, followed by the encoded image (its type was announced by the "started" message of
// that id). The socket reconnects by itself with a growing delay; listeners hear "open", "close",
// "message" (a parsed JSON object) and "frame" ({id, index, width, height, blob}).

const MAGIC = [0x4c, 0x57, 0x46, 0x31]; // "LWF1"
export const FRAME_HEADER_BYTES = 16;

let lastId = 0;

/** Request ids are unique in the page, across sockets (the protocol carries them as u32). */
export function nextRequestId() {
  lastId = (lastId % 0xfffffffe) + 1;
  return lastId;
}

/** Decode one binary frame message; throws on a malformed header. */
export function decodeFrame(buffer, mimeOf = () => "image/jpeg") {
  if (buffer.byteLength < FRAME_HEADER_BYTES) throw new Error(`binary message of ${buffer.byteLength} bytes`);
  const view = new DataView(buffer);
  for (let i = 0; i < 4; i++) {
    if (view.getUint8(i) !== MAGIC[i]) throw new Error("binary message without the LWF1 header");
  }
  const id = view.getUint32(4, true);
  const index = view.getUint32(8, true);
  const width = view.getUint16(12, true);
  const height = view.getUint16(14, true);
  const blob = new Blob([new Uint8Array(buffer, FRAME_HEADER_BYTES)], { type: mimeOf(id) });
  return { id, index, width, height, blob };
}

export class FrameSocket extends EventTarget {
  constructor(url, { minDelay = 400, maxDelay = 5000 } = {}) {
    super();
    this.url = url;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.delay = minDelay;
    this.ws = null;
    this.mimes = new Map(); // request id -> mime type of its frames
    this.waiting = new Map(); // request id -> {resolve, reject, timer} of ask()
    this.timer = null;
    this.stopped = false;
  }

  get isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  open() {
    this.stopped = false;
    clearTimeout(this.timer);
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      this.#scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.delay = this.minDelay;
      this.dispatchEvent(new Event("open"));
    });
    ws.addEventListener("message", (event) => this.#receive(event.data));
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      for (const [id, wait] of this.waiting) {
        clearTimeout(wait.timer);
        wait.reject(new Error("the connection to the server was lost"));
        this.waiting.delete(id);
      }
      this.dispatchEvent(new Event("close"));
      if (!this.stopped) this.#scheduleReconnect();
    });
  }

  /** Reconnect now (after a failed HTTP call showed the server is back, for instance). */
  retry() {
    if (!this.ws && !this.stopped) this.open();
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }

  /** Send one JSON message; false when the socket is not open (the caller retries on "open"). */
  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Send a message and resolve with the answer of the same id ({"type": "error"} rejects). */
  ask(message, timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      if (!this.send(message)) {
        reject(new Error("not connected to the server"));
        return;
      }
      const timer = setTimeout(() => {
        this.waiting.delete(message.id);
        reject(new Error("the server did not answer in time"));
      }, timeoutMs);
      this.waiting.set(message.id, { resolve, reject, timer });
    });
  }

  #scheduleReconnect() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), this.delay);
    this.delay = Math.min(this.maxDelay, this.delay * 1.6);
  }

  #receive(data) {
    if (typeof data !== "string") {
      let frame;
      try {
        frame = decodeFrame(data, (id) => this.mimes.get(id) ?? "image/jpeg");
      } catch (error) {
        console.warn("latentwalk: dropped a binary message:", error.message);
        return;
      }
      this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn("latentwalk: dropped a message that is not JSON");
      return;
    }
    if (message.type === "started" && message.mime) this.mimes.set(message.id, message.mime);
    if (["done", "cancelled", "error"].includes(message.type)) {
      // frames of a finished request may still be in flight in this order; drop the mime later
      const id = message.id;
      setTimeout(() => this.mimes.delete(id), 10000);
    }
    const wait = this.waiting.get(message.id);
    if (wait && message.type !== "started" && message.type !== "progress") {
      clearTimeout(wait.timer);
      this.waiting.delete(message.id);
      if (message.type === "error") {
        const err = new Error(message.error?.message ?? "the server refused the request");
        err.type = message.error?.type ?? "Error";
        wait.reject(err);
      } else {
        wait.resolve(message);
      }
      return;
    }
    this.dispatchEvent(new CustomEvent("message", { detail: message }));
  }
}

/** ws://host/ws for the page's own origin. */
export function socketUrl(path = "/ws") {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}
