/* Proof of work for the log-in and sign-up forms (docs/web.md, "Proof of work").

   The server puts a challenge in the form (input name="pow_challenge", like
   "1.login.1790000000.16.<nonce>.<mac>"; the fourth part is the number of leading zero
   bits it asks for). This script finds a counter n such that
       SHA-256(SHA-256("alertnode:pow:v1:" + challenge) || n as 8 bytes, big-endian)
   starts with that many zero bits, and puts n in the field named "pow". Each try is
   exactly one SHA-256 block, written out here so the page loads nothing from anywhere
   else. The work starts when the page opens and runs in slices, so the page stays
   responsive; a form sent before it is done waits for it. Without JavaScript the field
   stays empty and the server takes the slower way in (the noscript note says so). */
(function () {
  "use strict";

  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2
  ]);
  var H0 = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f,
    0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  var W = new Int32Array(64);

  /* One SHA-256 compression of the 16 words in W[0..15] into the state h (8 words). */
  function compress(h) {
    var i, a, b, c, d, e, f, g, k, t1, t2, x, y;
    for (i = 16; i < 64; i++) {
      x = W[i - 15]; y = W[i - 2];
      W[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
        (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) +
        W[i - 7] + W[i - 16] | 0;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; k = h[7];
    for (i = 0; i < 64; i++) {
      t1 = k + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) + K[i] + W[i] | 0;
      t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c)) | 0;
      k = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
    }
    h[0] = h[0] + a | 0; h[1] = h[1] + b | 0; h[2] = h[2] + c | 0; h[3] = h[3] + d | 0;
    h[4] = h[4] + e | 0; h[5] = h[5] + f | 0; h[6] = h[6] + g | 0; h[7] = h[7] + k | 0;
  }

  /* SHA-256 of an ASCII string, as 8 words. */
  function sha256Words(text) {
    var bytes = [], i, j, h = new Int32Array(H0), bits = text.length * 8;
    for (i = 0; i < text.length; i++) { bytes.push(text.charCodeAt(i) & 0xff); }
    bytes.push(0x80);
    while (bytes.length % 64 !== 56) { bytes.push(0); }
    bytes.push(0, 0, 0, 0, (bits >>> 24) & 0xff, (bits >>> 16) & 0xff, (bits >>> 8) & 0xff,
      bits & 0xff);
    for (i = 0; i < bytes.length; i += 64) {
      for (j = 0; j < 16; j++) {
        W[j] = (bytes[i + 4 * j] << 24) | (bytes[i + 4 * j + 1] << 16) |
          (bytes[i + 4 * j + 2] << 8) | bytes[i + 4 * j + 3];
      }
      compress(h);
    }
    return h;
  }

  /* Try counters from ``start`` for at most ``budget`` tries; the counter that works,
     or -1. The message is the 32-byte seed and the 8-byte counter: one block, whose
     padding never changes. Written out in one function with the state in locals (about
     twice as fast as calling compress), and only the first word of the hash is
     finished, since only its leading bits are asked for (at most 32). */
  function search(seed, bits, start, budget) {
    var mask = bits >= 32 ? -1 : ~(-1 >>> bits), w = new Int32Array(64), n, i, end;
    var a, b, c, d, e, f, g, k, t1, t2, x, y;
    for (i = 0; i < 8; i++) { w[i] = seed[i]; }
    w[10] = 0x80000000 | 0; w[15] = 320;
    end = start + budget;
    for (n = start; n < end; n++) {
      w[8] = Math.floor(n / 4294967296); w[9] = n | 0;
      for (i = 16; i < 64; i++) {
        x = w[i - 15]; y = w[i - 2];
        w[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
          (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) +
          w[i - 7] + w[i - 16] | 0;
      }
      a = H0[0] | 0; b = H0[1] | 0; c = H0[2] | 0; d = H0[3] | 0;
      e = H0[4] | 0; f = H0[5] | 0; g = H0[6] | 0; k = H0[7] | 0;
      for (i = 0; i < 64; i++) {
        t1 = k + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) + K[i] + w[i] | 0;
        t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (a & c) ^ (b & c)) | 0;
        k = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
      }
      if (((a + H0[0] | 0) & mask) === 0) { return n; }
    }
    return -1;
  }

  /* Solve ``challenge`` in slices of about 40 ms; call done(counter). */
  function solve(challenge, done) {
    var bits = parseInt(challenge.split(".")[3], 10);
    var seed = sha256Words("alertnode:pow:v1:" + challenge);
    var next = 0, budget = 20000;
    function slice() {
      var began = Date.now(), found = search(seed, bits, next, budget);
      if (found >= 0) { done(found); return; }
      next += budget;
      if (Date.now() - began < 20) { budget *= 2; }
      setTimeout(slice, 0);
    }
    slice();
  }

  function arm(form) {
    var challenge = form.querySelector("input[name=pow_challenge]");
    var answer = form.querySelector("input[name=pow]");
    var note = form.querySelector(".pow-status");
    if (!challenge || !answer || !challenge.value) { return; }
    var solved = false, waiting = false;
    form.addEventListener("submit", function (event) {
      if (solved) { return; }
      event.preventDefault();
      waiting = true;
      if (note) { note.textContent = note.getAttribute("data-wait") || ""; }
    });
    solve(challenge.value, function (counter) {
      answer.value = String(counter);
      solved = true;
      if (waiting) { form.submit(); }
    });
  }

  window.alertnodePow = { solve: solve };
  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form[data-pow]");
    for (var i = 0; i < forms.length; i++) { arm(forms[i]); }
  });
}());
