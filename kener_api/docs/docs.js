// Swagger UI on this server's own contract. A file, not an inline script: the page's
// Content-Security-Policy allows this server's scripts only. No online validator (it would
// send the contract to another host).
window.addEventListener("load", function () {
  fetch(new URL("openapi.json", window.location.href))
    .then(function (answer) { return answer.json(); })
    .then(function (spec) {
      // "Try it out" calls this server, wherever it is served from, not the placeholder
      // host the document names.
      var here = new URL(".", window.location.href).href.replace(/\/$/, "");
      spec.servers = [{ url: here, description: "this server" }];
      window.ui = SwaggerUIBundle({
        spec: spec,
        dom_id: "#swagger-ui",
        validatorUrl: null,
        deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis],
        layout: "BaseLayout",
      });
    });
});
