// The In page: webcam (or upload / drop / paste) -> captured picture -> translation or projection.

import { handOver } from "./handover.js";

const $ = (id) => document.getElementById(id);
const el = {
  live: $("live"), noCamera: $("no-camera"), captured: $("captured"), capturedInfo: $("captured-info"),
  result: $("result"), resultInfo: $("result-info"), capture: $("capture"), upload: $("upload"),
  translator: $("translator"), size: $("size"), translate: $("translate"), fit: $("fit"), steps: $("steps"),
  space: $("space"),
  project: $("project"), projection: $("projection"), target: $("proj-target"), recon: $("proj-recon"),
  loss: $("loss"), status: $("proj-status"), stop: $("stop"), walk: $("walk"), message: $("message"),
  dropZone: $("drop-zone"),
};
let picture = null; // Blob of the captured picture (PNG)
let job = null; // the projection job being followed
let resultUrl = null;

function say(text) {
  el.message.textContent = text || "";
  el.message.hidden = !text;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.error?.message || response.statusText;
  } catch {
    return response.statusText;
  }
}

async function startCamera() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    el.live.srcObject = stream;
    el.capture.disabled = false;
  } catch {
    el.noCamera.hidden = false;
    el.capture.disabled = true;
  }
}

function setPicture(blob, info) {
  picture = blob;
  el.capturedInfo.textContent = info;
  el.translate.disabled = el.project.disabled = false;
  document.body.dataset.captured = "yes";
}

function capture() {
  const v = el.live;
  if (!v.videoWidth) return say("the camera has not started yet");
  const side = Math.min(v.videoWidth, v.videoHeight);
  const ctx = el.captured.getContext("2d");
  ctx.drawImage(v, (v.videoWidth - side) / 2, (v.videoHeight - side) / 2, side, side, 0, 0, 512, 512);
  // The full frame goes to the server, which crops or pads as asked.
  const full = document.createElement("canvas");
  full.width = v.videoWidth;
  full.height = v.videoHeight;
  full.getContext("2d").drawImage(v, 0, 0);
  full.toBlob((blob) => setPicture(blob, `${v.videoWidth}x${v.videoHeight}`), "image/png");
  say("");
}

async function showFile(file) {
  if (!file) return;
  say("");
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    const side = Math.min(bitmap.width, bitmap.height);
    el.captured.getContext("2d").drawImage(
      bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, 512, 512);
    setPicture(file, `${bitmap.width}x${bitmap.height}`);
  } catch {
    // The browser cannot show it; the server will say what is wrong with it.
    setPicture(file, file.name || "picture");
  }
}

async function translate() {
  if (!picture) return;
  el.translate.disabled = true;
  el.resultInfo.textContent = "translating…";
  const q = new URLSearchParams({ model: el.translator.value, size: el.size.value, fit: el.fit.value });
  const t0 = performance.now();
  try {
    const response = await fetch(`/api/translate?${q}`, { method: "POST", body: picture });
    if (!response.ok) throw new Error(await errorText(response));
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    resultUrl = URL.createObjectURL(await response.blob());
    el.result.src = resultUrl;
    el.result.hidden = false;
    el.resultInfo.textContent = `${el.translator.value}, ${el.size.value} px, ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    document.body.dataset.translated = "yes";
    say("");
  } catch (error) {
    el.resultInfo.textContent = "";
    say(`translation failed: ${error.message}`);
  } finally {
    el.translate.disabled = false;
  }
}

function drawLoss(losses) {
  const c = el.loss;
  const ctx = c.getContext("2d");
  const fg = getComputedStyle(document.body).color;
  ctx.clearRect(0, 0, c.width, c.height);
  if (losses.length < 2) return;
  const logs = losses.map((v) => Math.log(Math.max(v, 1e-6)));
  const lo = Math.min(...logs), hi = Math.max(...logs);
  ctx.strokeStyle = fg;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  logs.forEach((v, i) => {
    const x = (i / (logs.length - 1)) * (c.width - 8) + 4;
    const y = c.height - 4 - ((v - lo) / (hi - lo || 1)) * (c.height - 8);
    if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
  });
  ctx.stroke();
}

async function project() {
  if (!picture) return;
  say("");
  el.project.disabled = true;
  el.walk.disabled = true;
  const q = new URLSearchParams({ steps: el.steps.value, fit: el.fit.value });
  if (el.space.value) q.set("space", el.space.value); // else the model's own: w where it has one
  const response = await fetch(`/api/project?${q}`, { method: "POST", body: picture });
  if (!response.ok) {
    el.project.disabled = false;
    return say(`projection failed: ${await errorText(response)}`);
  }
  job = await response.json();
  el.projection.hidden = false;
  el.target.src = `/api/project/${job.id}/target.png`;
  el.recon.removeAttribute("src");
  el.stop.disabled = false;
  follow(job.id, -1);
}

async function follow(id, seenPreviews) {
  if (!job || job.id !== id) return;
  const response = await fetch(`/api/project/${id}`);
  if (!response.ok) return say(await errorText(response));
  job = await response.json();
  if (job.previews !== seenPreviews && job.previews > 0) {
    el.recon.src = `/api/project/${id}/preview.png?v=${job.previews}`;
    seenPreviews = job.previews;
  }
  drawLoss(job.losses);
  const loss = job.loss === null ? "" : `, loss ${job.loss.toFixed(4)}`;
  el.status.textContent = `${job.state}: step ${job.step} of ${job.total}${loss}`;
  if (job.state === "running") return setTimeout(() => follow(id, seenPreviews), 300);
  el.project.disabled = false;
  el.stop.disabled = true;
  if (job.result) {
    el.status.textContent += ` · PSNR ${job.result.psnr.toFixed(2)} dB, SSIM ${job.result.ssim.toFixed(3)}`;
    el.walk.disabled = false;
    document.body.dataset.projected = "yes";
  }
  if (job.error) say(`projection failed: ${job.error}`);
}

async function walkFromIt() {
  const response = await fetch(`/api/project/${job.id}/result`);
  if (!response.ok) return say(await errorText(response));
  const result = await response.json();
  const label = `projected picture (PSNR ${result.psnr.toFixed(1)} dB)`;
  handOver({ z: result.z ?? null, ws: result.ws ?? null, model: result.model, label });
  location.href = "/";
}

/** The space choices the current model has: w and w+ only where it has a mapping network. */
async function loadModel() {
  const response = await fetch("/api/model");
  if (!response.ok) return;
  const model = await response.json();
  for (const option of el.space.options) {
    if (option.value.startsWith("w")) option.disabled = !model.has_w;
  }
  el.space.options[0].textContent = `auto (${model.has_w ? "w" : "z"})`;
  el.space.title = `${model.name}: ${model.has_w ? "w for StyleGAN models" : "z only, no mapping network"}`;
}

async function loadTranslators() {
  const response = await fetch("/api/translators");
  if (!response.ok) return;
  const { translators } = await response.json();
  el.translator.replaceChildren(...translators.map((t) => new Option(t.name, t.name)));
}

el.capture.addEventListener("click", capture);
el.upload.addEventListener("change", () => showFile(el.upload.files[0]));
el.translate.addEventListener("click", translate);
el.project.addEventListener("click", project);
el.stop.addEventListener("click", () => job && fetch(`/api/project/${job.id}`, { method: "DELETE" }));
el.walk.addEventListener("click", walkFromIt);
el.dropZone.addEventListener("dragover", (e) => { e.preventDefault(); el.dropZone.classList.add("over"); });
el.dropZone.addEventListener("dragleave", () => el.dropZone.classList.remove("over"));
el.dropZone.addEventListener("drop", (e) => {
  e.preventDefault();
  el.dropZone.classList.remove("over");
  showFile(e.dataTransfer.files[0]);
});
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
  if (item) showFile(item.getAsFile());
});

el.capture.disabled = true;
el.captured.getContext("2d").fillRect(0, 0, el.captured.width, el.captured.height); // black until a capture
startCamera();
loadTranslators();
loadModel();
