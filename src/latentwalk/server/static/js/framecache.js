// Frames kept in the page, so that scrubbing back is instant: encoded Blobs under a byte budget,
// and a smaller budget of decoded ImageBitmaps ready to draw. Both are least-recently-used.
//
// A frame is addressed by (key, index): the key names everything that decides its pixels (see
// chain.js renderKey), so frames of two settings never mix and switching back to earlier settings
// finds its frames again.

const MiB = 1024 * 1024;

export class FrameCache {
  constructor({ maxBytes = 320 * MiB, maxBitmapBytes = 160 * MiB } = {}) {
    this.maxBytes = maxBytes;
    this.maxBitmapBytes = maxBitmapBytes;
    this.blobs = new Map(); // "key#index" -> Blob, oldest first
    this.bytes = 0;
    this.present = new Map(); // key -> Set of cached indices (fast lookups while scrubbing)
    this.bitmaps = new Map(); // "key#index" -> {bitmap, bytes}, oldest first
    this.bitmapBytes = 0;
    this.decoding = new Map(); // "key#index" -> Promise<ImageBitmap>
  }

  static id(key, index) {
    return `${key}#${index}`;
  }

  has(key, index) {
    return this.present.get(key)?.has(index) ?? false;
  }

  count(key) {
    return this.present.get(key)?.size ?? 0;
  }

  put(key, index, blob) {
    const id = FrameCache.id(key, index);
    const old = this.blobs.get(id);
    if (old) {
      this.bytes -= old.size;
      this.blobs.delete(id);
    } else {
      if (!this.present.has(key)) this.present.set(key, new Set());
      this.present.get(key).add(index);
    }
    this.blobs.set(id, blob);
    this.bytes += blob.size;
    this.#evictBlobs();
  }

  blob(key, index) {
    const id = FrameCache.id(key, index);
    const blob = this.blobs.get(id);
    if (blob) {
      this.blobs.delete(id); // most recently used goes last
      this.blobs.set(id, blob);
    }
    return blob ?? null;
  }

  /** The first index in 0..total-1 with no cached frame (total when all are there). */
  firstMissing(key, total, from = 0) {
    for (let i = from; i < total; i++) if (!this.has(key, i)) return i;
    return total;
  }

  /** The cached index closest to `index` (earlier ones first on a tie), or -1. */
  nearest(key, index, total) {
    const indices = this.present.get(key);
    if (!indices) return -1;
    if (indices.has(index)) return index;
    for (let d = 1; d < total; d++) {
      if (index - d >= 0 && indices.has(index - d)) return index - d;
      if (index + d < total && indices.has(index + d)) return index + d;
      if (index - d < 0 && index + d >= total) break;
    }
    return -1;
  }

  /** Make frames 0..count-1 of `fromKey` frames of `toKey` too (they have the same pixels). */
  alias(fromKey, toKey, count) {
    for (let i = 0; i < count; i++) {
      const blob = this.blobs.get(FrameCache.id(fromKey, i));
      if (blob && !this.has(toKey, i)) this.put(toKey, i, blob);
    }
  }

  /** The decoded frame if it is ready now, else null. */
  bitmapNow(key, index) {
    const id = FrameCache.id(key, index);
    const hit = this.bitmaps.get(id);
    if (!hit) return null;
    this.bitmaps.delete(id);
    this.bitmaps.set(id, hit);
    return hit.bitmap;
  }

  /** Decode a cached frame (once, however many ask); resolves null when it is not cached. */
  bitmap(key, index) {
    const ready = this.bitmapNow(key, index);
    if (ready) return Promise.resolve(ready);
    const id = FrameCache.id(key, index);
    const pending = this.decoding.get(id);
    if (pending) return pending;
    const blob = this.blob(key, index);
    if (!blob) return Promise.resolve(null);
    const promise = createImageBitmap(blob)
      .then((bitmap) => {
        const bytes = bitmap.width * bitmap.height * 4;
        this.bitmaps.set(id, { bitmap, bytes });
        this.bitmapBytes += bytes;
        this.#evictBitmaps(id);
        return bitmap;
      })
      .catch((error) => {
        console.warn(`latentwalk: frame ${index} could not be decoded:`, error);
        return null;
      })
      .finally(() => this.decoding.delete(id));
    this.decoding.set(id, promise);
    return promise;
  }

  clear() {
    for (const { bitmap } of this.bitmaps.values()) bitmap.close();
    this.blobs.clear();
    this.bitmaps.clear();
    this.present.clear();
    this.bytes = 0;
    this.bitmapBytes = 0;
  }

  #evictBlobs() {
    for (const [id, blob] of this.blobs) {
      if (this.bytes <= this.maxBytes) break;
      this.blobs.delete(id);
      this.bytes -= blob.size;
      const cut = id.lastIndexOf("#");
      const key = id.slice(0, cut);
      const indices = this.present.get(key);
      indices?.delete(Number(id.slice(cut + 1)));
      if (indices && !indices.size) this.present.delete(key);
      this.#dropBitmap(id);
    }
  }

  #evictBitmaps(keep) {
    for (const id of this.bitmaps.keys()) {
      if (this.bitmapBytes <= this.maxBitmapBytes) break;
      if (id !== keep) this.#dropBitmap(id);
    }
  }

  #dropBitmap(id) {
    const hit = this.bitmaps.get(id);
    if (!hit) return;
    this.bitmaps.delete(id);
    this.bitmapBytes -= hit.bytes;
    hit.bitmap.close();
  }
}
