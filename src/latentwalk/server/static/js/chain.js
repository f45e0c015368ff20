// The walk as data: keyframes (z latents with where they came from) and steps per segment, and
// the pure functions that edit it and turn it into the settings of docs/explorer-api.md.
//
// The page's "steps" N is the length of one transition counting both of its ends. Chained
// transitions share the frame at their join, so a chain of open segments has the contract steps
// [N-1, ..., N-1, N] (the last segment of an open chain includes its end). With this choice,
// appending a transition leaves every earlier frame as it was: only the new segment is rendered.

let lastKeyframeId = 0;

/**
 * A keyframe: `z` is a plain array of numbers (as the server sent it), never changed in place.
 * `ws` (StyleGAN models) is a w+ latent, one row per layer, set once the keyframe was edited per
 * layer; it then renders from `ws`. `origin` is the keyframe it was edited from (for Reset).
 */
export function keyframe({ z, seed = null, label = null, ws = null, origin = null }) {
  lastKeyframeId += 1;
  return Object.freeze({ id: lastKeyframeId, z, seed, label, ws, origin });
}

export function randomSeed() {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

export const MAX_SEED = 2 ** 32 - 1;
export const MAX_STEPS = 10000;

/** Contract steps for `count` keyframes, N frames per transition, in a loop mode. */
export function stepsFor(count, n, loop) {
  if (loop === "circle") return [n];
  if (loop === "closed") return Array.from({ length: Math.max(count, 1) }, () => Math.max(n - 1, 1));
  const segments = Math.max(count - 1, 1);
  return Array.from({ length: segments }, (_, i) => (i === segments - 1 ? n : Math.max(n - 1, 1)));
}

/** The page's N for contract steps (the length of the last transition). */
export function transitionLength(steps, loop) {
  const last = steps[steps.length - 1] ?? 24;
  return loop === "none" || loop === "circle" ? last : last + 1;
}

export function frameCount(steps) {
  return steps.reduce((a, b) => a + b, 0);
}

/** First frame index of each segment. */
export function segmentStarts(steps) {
  const starts = [];
  let at = 0;
  for (const s of steps) {
    starts.push(at);
    at += s;
  }
  return starts;
}

export function newChain(source, destination, n, loop) {
  return { keyframes: [source, destination], steps: stepsFor(2, n, loop) };
}

/** Replace the source of the last transition (the keyframe before the last). */
export function withSource(chain, kf) {
  const keyframes = [...chain.keyframes];
  keyframes[Math.max(keyframes.length - 2, 0)] = kf;
  return { ...chain, keyframes };
}

/** Replace the destination (the last keyframe). */
export function withDestination(chain, kf) {
  const keyframes = [...chain.keyframes];
  keyframes[keyframes.length - 1] = kf;
  return { ...chain, keyframes };
}

/** Continue the chain: the destination becomes the source of a new transition of N frames to `kf`. */
export function appendKeyframe(chain, kf, n, loop) {
  const keyframes = [...chain.keyframes, kf];
  if (loop !== "none") return { keyframes, steps: stepsFor(keyframes.length, n, loop) };
  const steps = [...chain.steps];
  steps[steps.length - 1] = Math.max(steps[steps.length - 1] - 1, 1); // its end is now the join
  steps.push(n);
  return { keyframes, steps };
}

export function withTransitionLength(chain, n, loop) {
  return { ...chain, steps: stepsFor(chain.keyframes.length, n, loop) };
}

/** The settings object of the API for this chain. */
export function apiSettings(chain, settings) {
  return {
    ...settings,
    view_filter: { ...settings.view_filter },
    keyframes: chain.keyframes.map((k) => (k.ws ? { seed: k.seed, label: k.label, ws: k.ws } : { seed: k.seed, label: k.label })),
    steps: [...chain.steps],
  };
}

export function apiLatents(chain) {
  return chain.keyframes.map((k) => k.z);
}

// Settings that do not change pixels.
const NOT_PIXELS = new Set(["fps"]);

function pixelSettings(settings) {
  const out = {};
  for (const name of Object.keys(settings).sort()) {
    if (!NOT_PIXELS.has(name)) out[name] = settings[name];
  }
  return out;
}

/** Names everything that decides the frames' pixels: model, settings, keyframes, steps, format. */
export function renderKey({ model, chain, settings, format, precision = "fp32" }) {
  const ids = chain.keyframes.map((k) => k.id).join(",");
  return [
    model.name,
    model.snapshot ?? "",
    model.sha256 ?? "",
    format,
    precision,
    JSON.stringify(pixelSettings(settings)),
    ids,
    chain.steps.join(","),
  ].join("|");
}

// What the frames of segment s depend on, beyond the settings: its keyframes (their ids), and the
// spacing of its frames (steps, or steps-1 for the last segment of an open chain).
function segmentDeps(chain, s, settings) {
  const { keyframes, steps } = chain;
  const last = s === steps.length - 1;
  const denom = last ? Math.max(steps[s] - 1, 1) : steps[s];
  const k = keyframes.length;
  const at = (i) => keyframes[Math.min(Math.max(i, 0), k - 1)].id;
  const keys = settings.interpolation === "spline" ? [at(s - 1), at(s), at(s + 1), at(s + 2)] : [at(s), at(s + 1)];
  return `${keys.join(",")}/${denom}`;
}

/**
 * How many leading frames two renders share exactly (same pixels at the same indices).
 *
 * Frames depend on their own segment only (linear and slerp), or on its neighbours too (spline);
 * easing acts within a segment. Loops and random noise share nothing unless identical.
 */
export function sharedPrefix(a, b) {
  if (!a || !b) return 0;
  if (a.model.name !== b.model.name || a.model.sha256 !== b.model.sha256 || a.format !== b.format) return 0;
  if ((a.precision ?? "fp32") !== (b.precision ?? "fp32")) return 0;
  if (JSON.stringify(pixelSettings(a.settings)) !== JSON.stringify(pixelSettings(b.settings))) return 0;
  const total = Math.min(frameCount(a.chain.steps), frameCount(b.chain.steps));
  if (a.settings.noise_mode === "random") return 0;
  if (a.settings.loop !== "none") return renderKey(a) === renderKey(b) ? total : 0;
  let shared = 0;
  const segments = Math.min(a.chain.steps.length, b.chain.steps.length);
  for (let s = 0; s < segments; s++) {
    if (segmentDeps(a.chain, s, a.settings) !== segmentDeps(b.chain, s, b.settings)) break;
    const na = a.chain.steps[s];
    const nb = b.chain.steps[s];
    shared += Math.min(na, nb);
    if (na !== nb) break;
  }
  return Math.min(shared, total);
}

/** Parse a typed seed; null when it is not a whole number in 0..2^32-1. */
export function parseSeed(text) {
  const t = String(text).trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n <= MAX_SEED ? n : null;
}

/** A short description of a keyframe for cards and lists. */
export function describeKeyframe(kf) {
  if (!kf) return "";
  if (kf.label) return kf.label;
  if (kf.seed !== null && kf.seed !== undefined) return `seed ${kf.seed}`;
  return "latent";
}
