// Reading codes inside the app: a checkpoint's NFC tag through Web NFC (Android Chrome) and a QR
// code through the camera and BarcodeDetector, each offered only where the browser has it (the
// pick list is always there). While reading, a modal dialog says what to do and can be cancelled.

/** Whether this browser reads NFC tags (Web NFC). */
export function nfcSupported() {
  return "NDEFReader" in globalThis;
}

/** Whether this browser reads QR codes with the camera. */
export function cameraSupported() {
  return "BarcodeDetector" in globalThis && Boolean(globalThis.navigator?.mediaDevices?.getUserMedia);
}

/**
 * The checkpoint a tag's URL (`<base>/t/<school>/<tag>`) names, as `{ tag, zone_id }`, or
 * `{ error }` saying why it is none of this school's. Pure: the base (any host, any prefix)
 * and the query string do not matter; a trailing slash does not either.
 */
export function checkpointFromUrl(text, { schoolId, zones }) {
  let url;
  try {
    url = new URL(String(text ?? "").trim());
  } catch {
    return { error: "not a checkpoint's code" };
  }
  const path = /\/t\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
  if (!/^https?:$/.test(url.protocol) || !path) return { error: "not a checkpoint's code" };
  let school;
  let tag;
  try {
    school = decodeURIComponent(path[1]);
    tag = decodeURIComponent(path[2]);
  } catch {
    return { error: "not a checkpoint's code" };
  }
  if (school !== schoolId) return { error: "a checkpoint of another school" };
  const zone = zones.find((z) => z.checkpoints.includes(tag));
  if (!zone) return { error: `${tag} is not a checkpoint of this school` };
  return { tag, zone_id: zone.id };
}

/** The text of an NDEF message's first URL or text record (what a checkpoint's tag holds). */
function textOf(message) {
  for (const record of message.records ?? []) {
    if (!record.data) continue;
    if (record.recordType === "url" || record.recordType === "absolute-url") {
      return new TextDecoder().decode(record.data);
    }
    if (record.recordType === "text") {
      return new TextDecoder(record.encoding || "utf-8").decode(record.data);
    }
  }
  return "";
}

function cancelled() {
  return new DOMException("cancelled", "AbortError");
}

/** The reading dialog, made from its template when needed (a closed dialog stays out of the page). */
function openDialog({ title, text, withVideo }) {
  const template = document.getElementById("reader-template");
  const dialog = template.content.firstElementChild.cloneNode(true);
  dialog.querySelector(".reader__title").textContent = title;
  dialog.querySelector(".reader__text").textContent = text;
  const video = dialog.querySelector("video");
  video.hidden = !withVideo;
  const abort = new AbortController();
  dialog.querySelector(".reader__cancel").addEventListener("click", () => abort.abort());
  dialog.addEventListener("cancel", () => abort.abort()); // Escape, the back gesture
  document.body.append(dialog);
  const opener = document.activeElement;
  dialog.showModal();
  const close = () => {
    abort.abort();
    dialog.close();
    dialog.remove();
    opener?.focus?.();
  };
  return { dialog, video, signal: abort.signal, close };
}

function whenAborted(signal) {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(cancelled());
    signal.addEventListener("abort", () => reject(cancelled()), { once: true });
  });
}

async function readNfcText(signal) {
  const reader = new NDEFReader();
  const read = new Promise((resolve, reject) => {
    reader.onreading = (event) => resolve(textOf(event.message));
    reader.onreadingerror = () => reject(new Error("the tag could not be read: hold the phone still and try again"));
  });
  await Promise.race([reader.scan({ signal }), whenAborted(signal)]);
  return Promise.race([read, whenAborted(signal)]);
}

async function readQrText(video, signal) {
  const stream = await Promise.race([
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }),
    whenAborted(signal),
  ]);
  try {
    video.srcObject = stream;
    await video.play();
    const detector = new BarcodeDetector({ formats: ["qr_code"] });
    while (!signal.aborted) {
      const codes = await detector.detect(video);
      if (codes.length > 0) return codes[0].rawValue;
      await Promise.race([new Promise((r) => setTimeout(r, 150)), whenAborted(signal)]);
    }
    throw cancelled();
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  }
}

/**
 * Read one NFC tag's text (`null` when the officer cancelled); throws with a reason the officer
 * can read when the browser refuses (permission denied, NFC off).
 */
export async function readNfc({ title = "Tap NFC tag" } = {}) {
  const { signal, close } = openDialog({ title, text: "Hold the top of the phone to the tag.", withVideo: false });
  try {
    return await readNfcText(signal);
  } catch (err) {
    if (err?.name === "AbortError") return null;
    if (err?.name === "NotAllowedError") throw new Error("NFC is not allowed for this page");
    if (err?.name === "NotReadableError") throw new Error("NFC is off or busy on this phone");
    throw err;
  } finally {
    close();
  }
}

/** Read one QR code's text with the camera (`null` when the officer cancelled). */
export async function readQr({ title = "Scan QR" } = {}) {
  const { video, signal, close } = openDialog({ title, text: "Point the camera at the code.", withVideo: true });
  try {
    return await readQrText(video, signal);
  } catch (err) {
    if (err?.name === "AbortError") return null;
    if (err?.name === "NotAllowedError") throw new Error("the camera is not allowed for this page");
    if (err?.name === "NotFoundError") throw new Error("this phone has no camera the page can use");
    throw err;
  } finally {
    close();
  }
}
