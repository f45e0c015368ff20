// Turning folders of the Marrow GAN Explorer (info.json, source.npy, dest.npy per animation), as
// picked with <input type=file webkitdirectory>, into POST /api/import/marrow payloads.

import { parseNpy, toRows } from "./npy.js";

function folderOf(file) {
  const path = file.webkitRelativePath || file.name;
  const cut = path.lastIndexOf("/");
  return cut < 0 ? "" : path.slice(0, cut);
}

function baseName(path) {
  const cut = path.lastIndexOf("/");
  return cut < 0 ? path : path.slice(cut + 1);
}

/**
 * Group picked files by folder and read every folder that holds source.npy and dest.npy.
 * @param {FileList|File[]} files
 * @returns {Promise<{payloads: object[], problems: string[]}>}
 */
export async function readMarrowFolders(files) {
  const folders = new Map();
  for (const file of files) {
    const folder = folderOf(file);
    if (!folders.has(folder)) folders.set(folder, new Map());
    folders.get(folder).set(file.name, file);
  }
  const payloads = [];
  const problems = [];
  for (const [folder, entries] of [...folders].sort(([a], [b]) => a.localeCompare(b))) {
    const source = entries.get("source.npy");
    const dest = entries.get("dest.npy");
    if (!source || !dest) continue;
    const where = folder || "the chosen folder";
    try {
      let info = {};
      const infoFile = entries.get("info.json");
      if (infoFile) {
        try {
          info = JSON.parse(await infoFile.text());
        } catch {
          throw new Error("info.json is not valid JSON");
        }
      }
      const name = String(info.name || baseName(folder) || "marrow import");
      payloads.push({
        name,
        info,
        source: toRows(parseNpy(await source.arrayBuffer())),
        dest: toRows(parseNpy(await dest.arrayBuffer())),
      });
    } catch (error) {
      problems.push(`${where}: ${error.message}`);
    }
  }
  if (!payloads.length && !problems.length) {
    problems.push("no Marrow animation found: pick a folder that holds source.npy and dest.npy (or folders of them)");
  }
  return { payloads, problems };
}
