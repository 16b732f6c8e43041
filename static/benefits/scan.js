/* The counter's camera: started by a button, reads a QR code from the video and submits it for checking.
   Uses the browser's BarcodeDetector where it exists, otherwise the vendored ZXing decoder (static/vendor/). */
(function () {
  "use strict";
  var camera = document.getElementById("camera");
  var form = document.getElementById("verify-form");
  if (!camera || !form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return; // no camera API: the short code form is the way
  }
  var startButton = document.getElementById("camera-start");
  var stopButton = document.getElementById("camera-stop");
  var viewfinder = document.getElementById("viewfinder");
  var video = document.getElementById("camera-video");
  var status = document.getElementById("camera-status");
  var codeInput = form.querySelector("input[name=code]");
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null;
  var timer = null;
  var detector = null;
  var reader = null;
  var busy = false;

  camera.hidden = false;

  function decoderReady() {
    if ("BarcodeDetector" in window) {
      try {
        detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      } catch (e) {
        detector = null;
      }
    }
    if (!detector && window.ZXing) {
      var hints = new Map();
      hints.set(window.ZXing.DecodeHintType.TRY_HARDER, true);
      reader = new window.ZXing.QRCodeReader();
      reader.hints = hints;
    }
    return Boolean(detector || reader);
  }

  function stop() {
    if (timer) { window.clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); stream = null; }
    video.srcObject = null;
    viewfinder.hidden = true;
    startButton.hidden = false;
  }

  function found(text) {
    stop();
    status.textContent = camera.dataset.found;
    codeInput.value = text;
    form.submit();
  }

  function decodeZXing() {
    var source = new window.ZXing.HTMLCanvasElementLuminanceSource(canvas);
    var bitmap = new window.ZXing.BinaryBitmap(new window.ZXing.HybridBinarizer(source));
    try {
      return reader.decode(bitmap, reader.hints).getText();
    } catch (e) {
      return null; // no code in this frame
    }
  }

  function tick() {
    if (busy || !stream || video.readyState < 2 || !video.videoWidth) { return; }
    var scale = Math.min(1, 640 / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    if (detector) {
      busy = true;
      detector.detect(canvas).then(function (codes) {
        busy = false;
        if (codes.length) { found(codes[0].rawValue); }
      }, function () { busy = false; });
      return;
    }
    var text = decodeZXing();
    if (text) { found(text); }
  }

  startButton.addEventListener("click", function () {
    if (!decoderReady()) {
      status.textContent = camera.dataset.noCamera;
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (media) {
      stream = media;
      video.srcObject = media;
      viewfinder.hidden = false;
      startButton.hidden = true;
      status.textContent = camera.dataset.decoding;
      return video.play();
    }).then(function () {
      timer = window.setInterval(tick, 150);
    }).catch(function () {
      stop();
      status.textContent = camera.dataset.noCamera;
      codeInput.focus();
    });
  });
  stopButton.addEventListener("click", stop);
  window.addEventListener("pagehide", stop);
})();
