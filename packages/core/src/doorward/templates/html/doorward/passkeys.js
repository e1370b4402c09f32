// doorward's passkey pages: the WebAuthn calls, with base64url JSON in and out.
// Served by both adapters at <prefix>/assets/passkeys.js; no build step, no inline script.
// A form with data-passkey="register" | "mfa" | "login" and data-options="<options URL>"
// gets its options (POST, JSON, the form's CSRF token), asks the browser, puts the JSON
// of the credential in its hidden "credential" field and is submitted as usual.
(function () {
  "use strict";

  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var copy = Object.assign({}, d);
      copy.id = toBytes(d.id);
      return copy;
    });
  }

  function creationOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = toBytes(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBytes(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = toBytes(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") {
      try { return credential.toJSON(); } catch (e) { /* fall back below */ }
    }
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response
    };
  }

  function csrfOf(form) {
    var input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  // The texts come from the status element's data-* attributes (translated by the page),
  // English when a page has none.
  function say(form, key, fallback, detail) {
    var out = form.querySelector("[data-passkey-status]");
    if (!out) { return; }
    var text = out.getAttribute("data-" + key) || fallback;
    out.textContent = text.replace("%(error)s", detail || "");
  }

  function fetchOptions(form) {
    return fetch(form.getAttribute("data-options"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": csrfOf(form)
      },
      body: "{}"
    }).then(function (answer) {
      if (answer.status === 401 && form.hasAttribute("data-reauth")) {
        window.location.assign(form.getAttribute("data-reauth"));
      }
      if (!answer.ok) { throw new Error("options refused (" + answer.status + ")"); }
      return answer.json();
    }).then(function (body) { return body.options; });
  }

  function finish(form, credential) {
    form.querySelector("input[name=credential]").value = JSON.stringify(credentialJSON(credential));
    // a field that follows a checkbox of another form (the one "trust this browser" box)
    form.querySelectorAll("input[data-checked-by]").forEach(function (field) {
      var box = document.getElementById(field.getAttribute("data-checked-by"));
      field.disabled = !(box && box.checked);
    });
    HTMLFormElement.prototype.submit.call(form);
  }

  var pendingConditional = null;

  function run(form, conditional) {
    var kind = form.getAttribute("data-passkey");
    return fetchOptions(form).then(function (json) {
      if (kind === "register") {
        return navigator.credentials.create({ publicKey: creationOptions(json) });
      }
      var request = { publicKey: requestOptions(json) };
      if (conditional) {
        pendingConditional = new AbortController();
        request.mediation = "conditional";
        request.signal = pendingConditional.signal;
      }
      return navigator.credentials.get(request);
    }).then(function (credential) {
      if (credential) { finish(form, credential); }
    });
  }

  function start(form) {
    if (pendingConditional) { pendingConditional.abort(); pendingConditional = null; }
    say(form, "waiting", "Waiting for your passkey…");
    run(form, false).catch(function (error) {
      say(form, "failed", "The passkey was not used (%(error)s). Try again.",
        error && error.name || "error");
    });
  }

  function ready() {
    var supported = !!(window.PublicKeyCredential && navigator.credentials);
    var forms = document.querySelectorAll("form[data-passkey]");
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      if (!supported) {
        say(form, "unsupported", "This browser cannot use passkeys.");
        var button = form.querySelector("button");
        if (button) { button.disabled = true; }
        continue;
      }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        start(event.currentTarget);
      });
      if (form.hasAttribute("data-conditional") &&
          PublicKeyCredential.isConditionalMediationAvailable) {
        (function (f) {
          PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
            if (available) { run(f, true).catch(function () { /* the user may never pick one */ }); }
          });
        })(form);
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
