// The playback clock: which frame is on screen, playing and pausing at the animation's fps,
// stepping, and stepping repeatedly while an arrow key is held. No DOM; it moves state.frame.
//
// Playback never runs ahead of the frames that have arrived: while a render streams in, playing
// waits at the newest frame (the viewer says "waiting for frames") and goes on when it comes.

export const FPS_STEPS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 18, 24, 30, 36, 48, 60];
export const MIN_FPS = 1;
export const MAX_FPS = 60;

export class Playback {
  /**
   * @param store the page store (state.frame, state.playing, state.repeat, state.settings.fps)
   * @param isReady (index) => whether that frame has arrived
   * @param total () => number of frames of the animation on screen
   */
  constructor({ store, isReady, total }) {
    this.store = store;
    this.isReady = isReady;
    this.total = total;
    this.raf = 0;
    this.last = 0;
    this.acc = 0;
    this.holding = null; // {dir, timer}
  }

  get frame() {
    return this.store.get().frame;
  }

  seek(index) {
    const total = this.total();
    const i = total ? Math.min(Math.max(Math.round(index), 0), total - 1) : 0;
    if (i !== this.frame) this.store.set({ frame: i });
  }

  step(delta) {
    const total = this.total();
    if (!total) return;
    let i = this.frame + delta;
    if (this.store.get().repeat) i = ((i % total) + total) % total;
    this.seek(i);
  }

  play() {
    const total = this.total();
    if (!total || this.store.get().playing) return;
    if (this.frame >= total - 1 && !this.store.get().repeat) this.seek(0);
    this.store.set({ playing: true });
    this.last = performance.now();
    this.acc = 0;
    this.raf = requestAnimationFrame((t) => this.#tick(t));
  }

  pause() {
    cancelAnimationFrame(this.raf);
    this.raf = 0;
    if (this.store.get().playing) this.store.set({ playing: false });
  }

  toggle() {
    if (this.store.get().playing) this.pause();
    else this.play();
  }

  setFps(fps) {
    const value = Math.min(Math.max(Number(fps) || 12, MIN_FPS), MAX_FPS);
    const s = this.store.get().settings;
    if (s.fps !== value) this.store.set({ settings: { ...s, fps: value } });
  }

  slower() {
    const fps = this.store.get().settings.fps;
    const lower = FPS_STEPS.filter((f) => f < fps);
    this.setFps(lower.length ? lower[lower.length - 1] : MIN_FPS);
  }

  faster() {
    const fps = this.store.get().settings.fps;
    this.setFps(FPS_STEPS.find((f) => f > fps) ?? MAX_FPS);
  }

  /** Step now, then keep stepping in that direction until release(); at least 12 frames a second. */
  hold(dir) {
    if (this.holding && this.holding.dir === dir) return;
    this.release();
    this.pause();
    this.step(dir);
    const interval = () => 1000 / Math.max(this.store.get().settings.fps, 12);
    const tick = () => {
      this.step(dir);
      if (this.holding) this.holding.timer = setTimeout(tick, interval());
    };
    this.holding = { dir, timer: setTimeout(tick, 280) };
  }

  release() {
    if (!this.holding) return;
    clearTimeout(this.holding.timer);
    this.holding = null;
  }

  #tick(now) {
    if (!this.store.get().playing) return;
    const fps = this.store.get().settings.fps;
    const period = 1000 / fps;
    this.acc += Math.min(now - this.last, 250); // a backgrounded tab does not jump ahead
    this.last = now;
    const total = this.total();
    let frame = this.frame;
    while (this.acc >= period) {
      this.acc -= period;
      let next = frame + 1;
      if (next >= total) {
        if (!this.store.get().repeat) {
          this.seek(total - 1);
          this.pause();
          return;
        }
        next = 0;
      }
      if (!this.isReady(next)) {
        this.acc = 0; // wait for the frame instead of skipping it
        break;
      }
      frame = next;
    }
    this.seek(frame);
    this.raf = requestAnimationFrame((t) => this.#tick(t));
  }
}
