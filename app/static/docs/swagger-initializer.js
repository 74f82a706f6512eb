// Starts Swagger UI on /swagger (a file, not inline: the Content-Security-Policy allows no inline script).
//
// Signing in: "Try it out" on POST /api/v1/auth/login sets the session cookie, which the browser then
// sends with every call. A cookie-authenticated change also needs the CSRF token in the X-CSRFToken
// header: it is fetched fresh from /api/v1/auth/csrf before each change (signing in starts a new
// browser session, and with it a new token). Calls with a bearer token (Authorize) need no token.
(function () {
  "use strict";

  var SAFE_METHODS = ["GET", "HEAD", "OPTIONS"];
  var root = document.getElementById("swagger-ui");
  var csrfUrl = root.dataset.csrfUrl;

  function sameOrigin(url) {
    return new URL(url, window.location.href).origin === window.location.origin;
  }

  function withCsrfToken(request) {
    var method = (request.method || "GET").toUpperCase();
    if (SAFE_METHODS.indexOf(method) !== -1 || !sameOrigin(request.url)) {
      return request;
    }
    return fetch(csrfUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (body) {
        request.headers["X-CSRFToken"] = body.csrfToken;
        return request;
      });
  }

  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // No call to the public validator service: nothing leaves this server.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    oauth2RedirectUrl: root.dataset.oauth2RedirectUrl,
    persistAuthorization: false,
    requestInterceptor: withCsrfToken
  });
  window.ui.initOAuth({usePkceWithAuthorizationCodeGrant: true, scopes: "openid account"});
})();
