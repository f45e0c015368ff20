// The Directions tab's classifiers: add an ONNX file (choose or drop it; it is checked on arrival),
// list and delete them, and fit one axis per score of the chosen one, as a job like the feature fits.
// ONNX only: a TorchScript file is code and the server refuses it (the CLI takes it when trusted).

const $ = (id) => document.getElementById(id);

// A file name as a classifier name: letters, digits, "_", "." and "-", at most 64 (the server checks).
function nameOf(file) {
  const base = file.name.replace(/\.onnx$/i, "").replace(/[^A-Za-z0-9_.-]+/g, "-");
  return base.replace(/^[^A-Za-z0-9]+/, "").replace(/\.\.+/g, ".").slice(0, 64) || "classifier";
}

export function mountClassifiers({ call, startJob, samples, fail, done }) {
  const el = {
    select: $("dir-classifier"), fit: $("dir-fit-classifier"), del: $("dir-classifier-delete"),
    drop: $("dir-classifier-drop"), file: $("dir-classifier-file"), axes: $("dir-classifier-axes"),
  };
  let classifiers = [];
  let busy = false;

  function draw(list, chosen) {
    classifiers = list;
    const current = chosen ?? el.select.value;
    const options = list.map((c) => {
      const option = new Option(c.name, c.name);
      option.title = `${c.axes.length} axes: ${c.axes.join(", ")}`;
      return option;
    });
    el.select.replaceChildren(...(options.length ? options : [new Option("none yet", "")]));
    if (list.some((c) => c.name === current)) el.select.value = current;
    update();
  }

  function update() {
    const c = classifiers.find((x) => x.name === el.select.value);
    el.fit.disabled = busy || !c;
    el.del.disabled = !c;
    el.axes.textContent = c ? `axes: ${c.axes.join(", ")}` : "";
  }

  async function refresh() {
    try {
      draw((await call("GET", "/api/directions/classifiers")).classifiers);
    } catch (error) {
      fail(error, "could not list the classifiers");
    }
  }

  async function upload(file) {
    const name = nameOf(file);
    const exists = classifiers.some((c) => c.name === name);
    if (exists && !window.confirm(`Replace the classifier ${name}?`)) return;
    el.axes.textContent = `checking ${file.name}…`;
    try {
      const query = `name=${encodeURIComponent(name)}&replace=${exists}`;
      const answer = await call("POST", `/api/directions/classifiers?${query}`, file);
      draw(answer.classifiers, answer.classifier.name);
      done(`${answer.classifier.name} added: fit gives ${answer.classifier.axes.join(", ")}`);
    } catch (error) {
      update();
      fail(error, `could not add ${file.name}`);
    }
  }

  el.file.addEventListener("change", () => {
    const file = el.file.files[0];
    el.file.value = "";
    if (file) upload(file);
  });
  el.drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    el.drop.classList.add("over");
  });
  el.drop.addEventListener("dragleave", () => el.drop.classList.remove("over"));
  el.drop.addEventListener("drop", (event) => {
    event.preventDefault();
    el.drop.classList.remove("over");
    const file = event.dataTransfer?.files?.[0];
    if (file) upload(file);
  });
  el.select.addEventListener("change", update);
  el.fit.addEventListener("click", () => {
    if (el.select.value) startJob({ kind: "fit", samples: samples(), classifier: el.select.value });
  });
  el.del.addEventListener("click", async () => {
    const name = el.select.value;
    if (!name) return;
    try {
      draw((await call("DELETE", `/api/directions/classifiers/${encodeURIComponent(name)}`)).classifiers);
    } catch (error) {
      fail(error, `could not delete ${name}`);
    }
  });

  return {
    refresh,
    setBusy(on) {
      busy = on;
      update();
    },
  };
}
