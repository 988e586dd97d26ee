// Starts Swagger UI on an app's /docs page. A served file, not an inline script, so that the
// page keeps the strict Content-Security-Policy of every other page (script from this origin
// only). The page names the API description it documents in data-openapi-url.
const element = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: element.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // No badge from validator.swagger.io: a beamline network may not reach it, and the
  // description need not leave the site.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
