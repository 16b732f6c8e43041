/* The resident's QR screen: swaps in a fresh code every few seconds while open, and shows the result once the
   cashier confirms. Without JavaScript the page still shows one code and a link to a new one. */
(function () {
  "use strict";
  var panel = document.getElementById("qr-panel");
  if (!panel || !window.fetch) { return; }
  var image = document.getElementById("qr-image");
  var shortCode = document.getElementById("short-code");
  var result = document.getElementById("qr-result");
  var resultText = document.getElementById("qr-result-text");
  var expiredNote = document.getElementById("qr-expired");
  var refreshMs = (parseInt(panel.dataset.refresh, 10) || 20) * 1000;
  var statusUrl = panel.dataset.statusUrl; // answers for every code shown since this page opened
  var expiresAt = Date.parse(panel.dataset.expires);
  var done = false;
  var failures = 0;

  function getJSON(url, options) {
    return fetch(url, Object.assign({ credentials: "same-origin", headers: { "Accept": "application/json" } }, options))
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      });
  }

  function refresh() {
    if (done) { return; }
    getJSON(panel.dataset.tokenUrl, {
      method: "POST",
      headers: { "Accept": "application/json", "X-CSRFToken": panel.dataset.csrf },
    }).then(function (answer) {
      if (!answer.ok) { return; } // keep the current code; it is still valid for a while
      image.src = answer.body.qr;
      shortCode.textContent = answer.body.short_code;
      expiresAt = Date.parse(answer.body.expires_at);
      failures = 0;
    }).catch(function () { failures += 1; });
  }

  function showRedeemed(body) {
    done = true;
    panel.hidden = true;
    expiredNote.hidden = true;
    resultText.textContent = body.message;
    result.hidden = false;
    result.focus();
  }

  function poll() {
    if (done) { return; }
    getJSON(statusUrl).then(function (answer) {
      if (answer.ok && answer.body.status === "used") { showRedeemed(answer.body); }
    }).catch(function () { failures += 1; }).then(function () {
      if (!done && Date.now() > expiresAt) { expiredNote.hidden = false; panel.hidden = true; }
    });
  }

  window.setInterval(refresh, refreshMs);
  window.setInterval(poll, 1500);
})();
