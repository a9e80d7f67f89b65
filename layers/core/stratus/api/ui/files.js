// Files: drop HDF5 files to upload them (with progress), and the list of the caller's files.
import { DIRECT_UPLOAD_MAX, downloadFile, request, uploadFile } from "./api.js";
import { badge, bytes, errorBox, fill, h, progressBar, shortId, table, when } from "./dom.js";

function uploadRow(file) {
  const status = h("td", {}, badge("UPLOADING"));
  const bar = h("td.wide", {}, progressBar(0, "running"));
  const note = h("td", {}, file.size > DIRECT_UPLOAD_MAX ? "presigned" : "direct");
  const row = h("tr.upload", { dataset: { name: file.name } }, h("td", {}, file.name), h("td", {}, bytes(file.size)), status, bar, note);
  return {
    row,
    progress: (fraction) => fill(bar, progressBar(fraction, "running")),
    settle: (fileId, state) => {
      row.dataset.fileId = fileId;
      row.dataset.status = state;
      fill(status, badge(state));
      fill(bar, progressBar(1, state));
      fill(note, h("span.mono", {}, shortId(fileId)));
    },
    fail: (error) => {
      row.dataset.status = "FAILED";
      fill(status, badge("FAILED"));
      fill(note, errorBox(error));
    },
  };
}

export function filesPage(view) {
  const picker = h("input", { type: "file", id: "file-input", multiple: true, accept: ".h5,.hdf5,.hdf,.nxs", hidden: true });
  const zone = h("div.drop-zone", { id: "drop-zone", tabindex: "0", role: "button" },
    h("strong", {}, "Drop HDF5 files here"), h("span.muted", {}, " or click to choose. Up to 4 MiB go straight to the API; larger files go to S3 through presigned URLs."));
  const uploads = h("tbody", { id: "uploads" });
  const uploadTable = h("table", { hidden: true }, h("thead", {}, h("tr", {}, ["File", "Size", "Status", "Progress", "Id"].map((t) => h("th", {}, t)))), uploads);
  const list = h("div", { id: "files" });
  const problem = h("div");
  fill(view, h("h1", {}, "Files"), zone, picker, uploadTable, problem, h("h2", {}, "Your files"), list);
  const waiting = new Map(); // file id → its upload row, until ingestion says READY or REJECTED

  async function upload(file) {
    const entry = uploadRow(file);
    uploadTable.hidden = false;
    uploads.prepend(entry.row);
    try {
      const fileId = await uploadFile(file, entry.progress);
      entry.settle(fileId, "PENDING");
      waiting.set(fileId, entry);
      await page.refresh();
    } catch (error) {
      entry.fail(error);
    }
  }

  const accept = (files) => [...files].forEach(upload);
  zone.addEventListener("click", () => picker.click());
  zone.addEventListener("keydown", (event) => (event.key === "Enter" || event.key === " ") && picker.click());
  picker.addEventListener("change", () => {
    accept(picker.files);
    picker.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    accept(event.dataTransfer.files);
  });

  async function remove(fileId) {
    try {
      await request(`/files/${fileId}`, { method: "DELETE" });
      await page.refresh();
    } catch (error) {
      fill(problem, errorBox(error));
    }
  }

  const page = {
    async refresh() {
      try {
        const files = await request("/files?limit=50");
        for (const file of files.items) {
          const entry = waiting.get(file.file_id);
          if (entry && file.status !== "PENDING") {
            entry.settle(file.file_id, file.status);
            waiting.delete(file.file_id);
          }
        }
        fill(list, table(["Id", "Status", "Size", "Created", "Expires", ""], files.items.map((file) =>
          h("tr", { dataset: { id: file.file_id, status: file.status } },
            h("td.mono", {}, file.file_id),
            h("td", {}, badge(file.status), file.reason ? h("small.muted", {}, ` ${file.reason}`) : null),
            h("td", {}, bytes(file.size)),
            h("td", {}, when(file.time_created)),
            h("td", {}, when(file.expires_at)),
            h("td.actions", {},
              file.status === "READY" ? h("button.link", { type: "button", onclick: () => downloadFile(file.file_id).catch((e) => fill(problem, errorBox(e))) }, "download") : null,
              h("button.link.danger", { type: "button", onclick: () => remove(file.file_id) }, "delete")))),
        "No files yet."));
        fill(problem);
      } catch (error) {
        fill(problem, errorBox(error));
      }
    },
  };
  return page;
}
