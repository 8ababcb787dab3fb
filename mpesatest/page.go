package mpesatest

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"strconv"

	"github.com/mpesa-go/mpesa"
)

// The phone page: the simulator's own web page, at "/" of the main listener
// with WithControlPlane. It shows the live journal of calls and callbacks
// with their acknowledgements, the test customers, and each open PIN prompt
// as the customer's phone would, with buttons to enter the PIN, decline, or
// let it time out. It is one html/template with a little plain JavaScript
// that long-polls GET /_sim/state and answers prompts with POST
// /_sim/prompts/{id}: no build step, nothing fetched from elsewhere.

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// pageData is what the template renders before the script takes over.
type pageData struct {
	BaseURL       string
	PromptTimeout string
	Gateways      []pageGateway
	Customers     []customerView
	Prompts       []promptView
}

type pageGateway struct {
	Name, Paths, ServiceProviderCode string
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	data := pageData{
		BaseURL:       baseURL(r),
		PromptTimeout: strconv.Itoa(int(s.cfg.ext.promptTimeout.Seconds())) + " s",
		Gateways: []pageGateway{
			{mpesa.GatewayOpenAPI.String(), "/{sandbox|openapi}/ipg/v2/{market}/{api}/", OpenAPIServiceProviderCode},
			{mpesa.GatewayMozambique.String(), "/ipg/v1x/{api}/", MozambiqueServiceProviderCode},
			{mpesa.GatewayDaraja.String(), "/oauth/v1/generate, /mpesa/...", s.dj.cfg.Shortcode},
		},
		Customers: s.customerViews(),
		Prompts:   s.promptViews(),
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The page loads nothing from elsewhere and talks only to its origin.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
}
