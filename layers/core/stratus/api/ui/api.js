// The API as the dashboard sees it: one request function, errors carrying the server's detail and code,
// and uploads with progress (direct below 4 MiB, else presigned single or multipart PUTs).

// The page is served at <root>ui, the API at <root>api/v0; <root> may carry an API Gateway stage.
export const ROOT = location.pathname.replace(/ui\/?$/, "");
const API = `${ROOT}api/v0`;
const TOKEN_KEY = "stratus.token";
// POST /api/v0/files takes bodies up to this size; larger files go through presigned uploads.
export const DIRECT_UPLOAD_MAX = 4 * 1024 * 1024;

export class ApiError extends Error {
  constructor(status, detail, code) {
    super(`${status} ${code}: ${detail}`);
    this.status = status;
    this.detail = detail;
    this.code = code;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

// Listeners told when the server refuses the token (expired, revoked): the app signs out.
const refusedListeners = [];
export function onRefused(listener) {
  refusedListeners.push(listener);
}

// FastAPI's 422 lists each invalid field; our own errors are {"detail", "code"}.
function describe(body, fallback) {
  if (!body || body.detail === undefined) return fallback;
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) {
    return body.detail.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; ");
  }
  return JSON.stringify(body.detail);
}

async function errorFrom(response) {
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  const code = (body && typeof body.code === "string" && body.code) || "http_error";
  return new ApiError(response.status, describe(body, text || response.statusText), code);
}

function authHeaders(credential) {
  const value = credential ?? token.get();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

// A JSON request to /api/v0<path>; resolves with the parsed body (null for 204), rejects with ApiError.
export async function request(path, { method = "GET", body, credential } = {}) {
  const headers = { Accept: "application/json", ...authHeaders(credential) };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, init);
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && credential === undefined) refusedListeners.forEach((f) => f(error));
    throw error;
  }
  return response.status === 204 ? null : response.json();
}

// Check a token by one cheap authenticated call; rejects with the server's ApiError when refused.
export function checkToken(candidate) {
  return request("/executions?limit=1", { credential: candidate });
}

// One XMLHttpRequest (fetch reports no upload progress): resolves with the XHR once it answered 2xx.
function send(method, url, blob, { headers = {}, onProgress }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress?.(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve(xhr);
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      const detail = describe(body, xhr.responseText.slice(0, 300) || xhr.statusText);
      reject(new ApiError(xhr.status, detail, (body && body.code) || "upload_failed"));
    };
    xhr.onerror = () => reject(new ApiError(0, `the request to ${new URL(url, location.href).host} failed`, "network_error"));
    xhr.send(blob);
  });
}

// Upload a File; onProgress(fraction) as bytes leave. Resolves with the file id (its status may be PENDING).
export async function uploadFile(file, onProgress) {
  const report = (sent) => onProgress(Math.min(1, sent / Math.max(1, file.size)));
  // The name is kept on the file, and its extension (.csv, .json, .xlsx) makes a table an HDF5 file.
  const name = file.name.slice(0, 255);
  if (file.size <= DIRECT_UPLOAD_MAX) {
    const xhr = await send("POST", `${API}/files?name=${encodeURIComponent(name)}`, file, {
      headers: { ...authHeaders(), "Content-Type": "application/octet-stream" },
      onProgress: report,
    });
    return JSON.parse(xhr.responseText).file_id;
  }
  const upload = await request("/files/uploads", { method: "POST", body: { size: file.size, name } });
  // A Blob slice has no type, so no Content-Type goes to S3 (it is not part of the signature).
  if (upload.upload_url) {
    await send("PUT", upload.upload_url, file.slice(0, file.size), { onProgress: report });
    return upload.file_id;
  }
  const parts = [];
  let done = 0;
  for (const part of upload.parts) {
    const start = (part.part_number - 1) * upload.part_size;
    const xhr = await send("PUT", part.url, file.slice(start, start + part.size), {
      onProgress: (loaded) => report(done + loaded),
    });
    done += part.size;
    const etag = xhr.getResponseHeader("ETag");
    if (!etag) throw new ApiError(0, "S3 answered without an ETag the page may read (bucket CORS)", "cors");
    parts.push({ part_number: part.part_number, etag });
  }
  await request(`/files/uploads/${upload.file_id}/complete`, { method: "POST", body: { parts } });
  return upload.file_id;
}

// A binary answer (a file, a plot, a CSV) fetched with the token; a large file redirects to a presigned URL.
export async function fetchBlob(path) {
  const response = await fetch(API + path, { headers: authHeaders() });
  if (!response.ok) throw await errorFrom(response);
  return response.blob();
}

// Hand a Blob to the browser as a download named `name`.
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Save a file's bytes as <file_id>.h5.
export async function downloadFile(fileId) {
  saveBlob(await fetchBlob(`/files/${fileId}`), `${fileId}.h5`);
}
