// Starts Swagger UI on a service's /docs page (tessera/http/api_docs.py). A file rather than
// an inline script, so the page's Content-Security-Policy can allow scripts from 'self' only.
"use strict";

const container = document.getElementById("swagger-ui");

window.ui = SwaggerUIBundle({
  url: container.dataset.openapiUrl,
  domNode: container,
  deepLinking: true,
  displayRequestDuration: true,
  showExtensions: true,
  showCommonExtensions: true,
  // The default would load a badge from validator.swagger.io: nothing here leaves the service.
  validatorUrl: null,
  // "Authorize" keeps the access token in this page only (not localStorage), as the SPA does.
  persistAuthorization: false,
});
