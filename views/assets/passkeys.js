// Passkeys in the browser: the one script Tessera's pages load (CSP script-src 'self').
// No build step, no dependency. A button that asks for a passkey says where:
//   data-options  the URL that answers WebAuthn options (POST, the form's CSRF token)
//   data-action   the URL the result is posted to (a form field "credential": the JSON)
//   data-passkey="register"  makes a new passkey (navigator.credentials.create);
//                            otherwise the button signs in with one (navigator.credentials.get)
// Such buttons are hidden in the HTML: without JavaScript or WebAuthn nothing
// that cannot work is shown. This script unhides them.
(function () {
  'use strict';
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
    while (base64.length % 4) base64 += '=';
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = '';
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function withBytes(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBytes(c.id) }); });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json, { challenge: toBytes(json.challenge), excludeCredentials: withBytes(json.excludeCredentials) });
    options.user = Object.assign({}, json.user, { id: toBytes(json.user.id) });
    return options;
  }

  function requestOptions(json) {
    return Object.assign({}, json, { challenge: toBytes(json.challenge), allowCredentials: withBytes(json.allowCredentials) });
  }

  // The JSON form of a PublicKeyCredential, as the server's library reads it.
  function credentialJson(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    });
  }

  function field(form, name) {
    var input = form && form.querySelector('input[name="' + name + '"]');
    return input ? input.value : '';
  }

  function say(button, message) {
    var status = button.passkeyStatus;
    if (!status) {
      status = document.createElement('p');
      status.className = 'alert';
      status.setAttribute('role', 'alert');
      button.insertAdjacentElement('afterend', status);
      button.passkeyStatus = status;
    }
    status.textContent = message;
  }

  // A new form, so that nothing else of the page's form (a code field, its validation) goes along.
  function post(action, fields) {
    var form = document.createElement('form');
    form.method = 'post';
    form.action = action;
    form.hidden = true;
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = fields[name];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  }

  function use(button) {
    var form = button.form || button.closest('form');
    var csrf = field(form, 'csrf');
    var registering = button.getAttribute('data-passkey') === 'register';
    var name = registering ? field(form, 'name') : '';
    if (registering && form && typeof form.reportValidity === 'function' && !form.reportValidity()) return;
    button.disabled = true;
    fetch(button.getAttribute('data-options'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ csrf: csrf }).toString(),
    }).then(function (answer) {
      if (!answer.ok) throw new Error('options');
      return answer.json();
    }).then(function (options) {
      return registering
        ? navigator.credentials.create({ publicKey: creationOptions(options) })
        : navigator.credentials.get({ publicKey: requestOptions(options) });
    }).then(function (credential) {
      if (!credential) throw new Error('none');
      var fields = { csrf: csrf, credential: credentialJson(credential) };
      if (registering) fields.name = name;
      post(button.getAttribute('data-action'), fields);
    }).catch(function (error) {
      button.disabled = false;
      if (error && error.message === 'options') say(button, 'This page has expired. Reload it and try again.');
      else if (registering) say(button, 'No passkey was added. Try again, or use another authenticator.');
      else say(button, 'No passkey was used. Try again, or sign in another way.');
    });
  }

  var buttons = document.querySelectorAll('button[data-options][data-action]');
  Array.prototype.forEach.call(buttons, function (button) {
    button.addEventListener('click', function () { use(button); });
    // Enter in the name field submits the form: make that add the passkey too
    if (button.getAttribute('data-passkey') === 'register' && button.form) {
      button.form.addEventListener('submit', function (event) { event.preventDefault(); use(button); });
    }
    button.hidden = false;
    var wrapper = button.closest('[data-passkey-section]');
    if (wrapper) wrapper.hidden = false;
  });
}());
