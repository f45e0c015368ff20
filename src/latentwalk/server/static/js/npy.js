// Reading NumPy .npy files (format versions 1 to 3) of float or integer numbers, in the browser.

const MAGIC = "\x93NUMPY";

const TYPES = {
  f8: [Float64Array, 8, "getFloat64"],
  f4: [Float32Array, 4, "getFloat32"],
  i8: [null, 8, "getBigInt64"],
  i4: [Int32Array, 4, "getInt32"],
  i2: [Int16Array, 2, "getInt16"],
  u1: [Uint8Array, 1, "getUint8"],
};

function parseHeader(text) {
  // A Python dict literal: {'descr': '<f8', 'fortran_order': False, 'shape': (1, 512), }
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new Error("the .npy header is not readable");
  const dims = shape[1]
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error("the .npy shape is not readable");
  return { descr: descr[1], fortranOrder: fortran[1] === "True", shape: dims };
}

/**
 * Parse an .npy file.
 * @param {ArrayBuffer} buffer the file's bytes
 * @returns {{shape: number[], dtype: string, data: Float64Array}} values as doubles, C order
 */
export function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== MAGIC) throw new Error("not a NumPy .npy file");
  const major = bytes[6];
  const view = new DataView(buffer);
  let headerLen;
  let offset;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    offset = 10;
  } else if (major === 2 || major === 3) {
    headerLen = view.getUint32(8, true);
    offset = 12;
  } else {
    throw new Error(`.npy format version ${major} is not supported`);
  }
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(offset, offset + headerLen));
  const { descr, fortranOrder, shape } = parseHeader(header);
  const order = descr[0];
  const kind = descr.slice(1);
  const spec = TYPES[kind];
  if (!spec || !"<>|=".includes(order)) throw new Error(`.npy values of type ${descr} are not supported`);
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) {
    throw new Error("Fortran-ordered .npy arrays are not supported");
  }
  const [, size, getter] = spec;
  const count = shape.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  if (start + count * size > buffer.byteLength) throw new Error("the .npy file is truncated");
  const little = order !== ">";
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = Number(view[getter](start + i * size, little));
  return { shape, dtype: descr, data };
}

/** Rows of a 1-d or 2-d array as nested arrays of numbers. */
export function toRows({ shape, data }) {
  if (shape.length === 1) return [Array.from(data)];
  if (shape.length !== 2) throw new Error(`expected a vector or a matrix, got shape (${shape.join(", ")})`);
  const [rows, cols] = shape;
  return Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * cols, (r + 1) * cols)));
}
