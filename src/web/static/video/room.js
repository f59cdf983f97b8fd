// The built-in video room: one RTCPeerConnection between the specialist (owner, who makes
// the offers) and the patient (guest, who answers), signalling over the page's websocket.
(() => {
  "use strict";
  const cfg = JSON.parse(document.getElementById("video-config").textContent);
  const $ = (id) => document.getElementById(id);
  const statusEl = $("video-status");
  const errorEl = $("video-error");
  const owner = cfg.role === "owner";
  let ws = null;
  let pc = null;
  let localStream = null;
  let sessionId = null;
  let pendingIce = [];
  let left = false;
  let reconnects = 0;
  let recorder = null;
  let recordedBytes = 0;
  const api = {
    get pc() { return pc; },
    get ws() { return ws; },
    get recordedBytes() { return recordedBytes; },
  };
  window.carebookVideo = api;

  const setStatus = (text) => { statusEl.textContent = text; };
  const showError = (text) => { errorEl.textContent = text || ""; errorEl.hidden = !text; };

  // Camera and microphone problems, in plain words.
  function explainMediaError(err) {
    switch (err && err.name) {
      case "NotAllowedError":
      case "PermissionDeniedError":
        return "Your browser did not allow this page to use your camera and microphone. " +
          "Click the camera symbol in the address bar, choose \u201cAllow\u201d, then reload this page.";
      case "NotFoundError":
      case "DevicesNotFoundError":
        return "We could not find a camera or microphone. Plug one in or switch it on, then reload this page.";
      case "NotReadableError":
      case "TrackStartError":
        return "Your camera or microphone is being used by another app (for example another video call). " +
          "Close that app, then reload this page.";
      case "OverconstrainedError":
        return "Your camera cannot give a picture we can use. Try another camera, then reload this page.";
      case "SecurityError":
        return "Video calls need a secure connection. Open the link exactly as you received it (https://).";
      default:
        return "We could not start your camera or microphone. Reload this page to try again.";
    }
  }

  async function startMedia() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError(explainMediaError({ name: "SecurityError" }));
      return null;
    }
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch (err) {
      if (err && err.name !== "NotAllowedError") {
        try {  // No usable camera: the call still works with the microphone alone.
          const audioOnly = await navigator.mediaDevices.getUserMedia({ audio: true });
          showError(explainMediaError(err) + " For now you joined with your microphone only.");
          return audioOnly;
        } catch (_) { /* fall through to the first explanation */ }
      }
      showError(explainMediaError(err) + " You can still see and hear the other person.");
      return null;
    }
  }

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function newPeer() {
    if (pc) pc.close();
    pendingIce = [];
    pc = new RTCPeerConnection({ iceServers: cfg.iceServers || [] });
    const kinds = new Set();
    if (localStream) {
      for (const track of localStream.getTracks()) {
        pc.addTrack(track, localStream);
        kinds.add(track.kind);
      }
    }
    if (owner) {
      for (const kind of ["audio", "video"]) {
        if (!kinds.has(kind)) pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
    const mine = pc;
    const sid = sessionId;
    pc.onicecandidate = (event) => {
      if (event.candidate && mine === pc) send({ type: "ice", sid, candidate: event.candidate.toJSON() });
    };
    pc.ontrack = (event) => {
      const video = $("remote-video");
      const stream = event.streams[0] || new MediaStream([event.track]);
      if (video.srcObject !== stream) video.srcObject = stream;
    };
    pc.onconnectionstatechange = () => {
      if (mine !== pc) return;
      const state = pc.connectionState;
      if (state === "connected") { setStatus("Connected."); showError(""); }
      else if (state === "connecting") setStatus("Connecting…");
      else if (state === "failed") {
        setStatus("The connection failed.");
        showError("We could not connect you directly. Reload the page to try again; if it keeps " +
          "failing, your network may block video calls (ask the clinic for help).");
      } else if (state === "disconnected") setStatus("The connection is unstable…");
    };
    return pc;
  }

  async function flushIce() {
    const queued = pendingIce;
    pendingIce = [];
    for (const candidate of queued) await pc.addIceCandidate(candidate).catch(() => {});
  }

  async function makeOffer() {
    sessionId = Math.random().toString(36).slice(2);
    newPeer();
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    send({ type: "offer", sid: sessionId, sdp: pc.localDescription.toJSON() });
    setStatus("Calling…");
  }

  async function onMessage(message) {
    switch (message.type) {
      case "join":
        $("remote-name").textContent = message.name;
        if (owner) await makeOffer();
        else send({ type: "present" });
        break;
      case "present":
        $("remote-name").textContent = message.name;
        if (owner && (!pc || ["failed", "closed"].includes(pc.connectionState))) await makeOffer();
        break;
      case "offer":
        if (owner) break;
        $("remote-name").textContent = message.name;
        sessionId = message.sid;
        newPeer();
        await pc.setRemoteDescription(message.sdp);
        await flushIce();
        await pc.setLocalDescription(await pc.createAnswer());
        send({ type: "answer", sid: sessionId, sdp: pc.localDescription.toJSON() });
        break;
      case "answer":
        if (!owner || !pc || message.sid !== sessionId) break;
        await pc.setRemoteDescription(message.sdp);
        await flushIce();
        break;
      case "ice":
        if (!pc || message.sid !== sessionId) break;
        if (pc.remoteDescription) await pc.addIceCandidate(message.candidate).catch(() => {});
        else pendingIce.push(message.candidate);
        break;
      case "leave":
        if (pc) { pc.close(); pc = null; }
        $("remote-video").srcObject = null;
        $("remote-name").textContent = "The other person left. They can join again with their link.";
        setStatus("Waiting for the other person…");
        break;
      default:
        break;
    }
  }

  function connect() {
    const url = new URL(cfg.ws, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(url);
    ws.onopen = () => {
      reconnects = 0;
      setStatus("Waiting for the other person…");
      send({ type: "join" });
    };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (_) { return; }
      onMessage(message).catch((err) => console.warn("video signalling", err));
    };
    ws.onclose = (event) => {
      if (left) return;
      if (event.code === 4403 || event.code === 4404 || reconnects >= 5) {
        setStatus("You are not connected.");
        showError(event.code === 4403
          ? "The video room is closed now."
          : "We lost the connection to the clinic. Reload the page to join again.");
        return;
      }
      reconnects += 1;
      setStatus("Reconnecting…");
      setTimeout(connect, 1000 * reconnects);
    };
  }

  function toggleTrack(kind, button, onText, offText) {
    if (!localStream) return;
    const tracks = localStream.getTracks().filter((t) => t.kind === kind);
    if (!tracks.length) return;
    const enabled = !tracks[0].enabled;
    for (const t of tracks) t.enabled = enabled;
    button.setAttribute("aria-pressed", String(!enabled));
    button.textContent = enabled ? onText : offText;
  }

  function leave() {
    left = true;
    send({ type: "leave" });
    if (recorder && recorder.state !== "inactive") recorder.stop();
    if (ws) ws.close();
    if (pc) { pc.close(); pc = null; }
    if (localStream) for (const t of localStream.getTracks()) t.stop();
    $("remote-video").srcObject = null;
    $("local-video").srcObject = null;
    document.querySelector(".video-controls").hidden = true;
    $("left-message").hidden = false;
    setStatus("You left the call.");
  }

  function toggleRecording(button) {
    if (recorder && recorder.state === "recording") {
      recorder.stop();
      return;
    }
    const remote = $("remote-video").srcObject;
    if (!remote) { showError("Recording starts once the other person is connected."); return; }
    const tracks = [...remote.getTracks()];
    if (localStream) tracks.push(...localStream.getAudioTracks());
    const chunks = [];
    recorder = new MediaRecorder(new MediaStream(tracks));
    recorder.ondataavailable = (event) => {
      if (event.data.size) { chunks.push(event.data); recordedBytes += event.data.size; }
    };
    recorder.onstop = () => {
      button.setAttribute("aria-pressed", "false");
      button.textContent = "Start recording";
      if (cfg.uploadUrl && chunks.length) {
        fetch(cfg.uploadUrl, { method: "POST", body: new Blob(chunks, { type: recorder.mimeType }) })
          .then((r) => setStatus(r.ok ? "Recording saved to the clinic's records." : "Saving the recording failed."))
          .catch(() => setStatus("Saving the recording failed."));
      }
    };
    recorder.start(1000);
    button.setAttribute("aria-pressed", "true");
    button.textContent = "Stop recording";
  }

  async function start() {
    localStream = await startMedia();
    if (localStream) $("local-video").srcObject = localStream;
    const mic = $("toggle-mic");
    const cam = $("toggle-camera");
    mic.addEventListener("click", () => toggleTrack("audio", mic, "Mute microphone", "Unmute microphone"));
    cam.addEventListener("click", () => toggleTrack("video", cam, "Turn camera off", "Turn camera on"));
    $("leave").addEventListener("click", leave);
    const rec = $("toggle-recording");
    if (rec) rec.addEventListener("click", () => toggleRecording(rec));
    window.addEventListener("pagehide", () => { if (!left) send({ type: "leave" }); });
    connect();
  }

  start();
})();
