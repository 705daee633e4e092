package api

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api/statuspage"
)

// registerStatusPage serves the public status page (GET and POST /status)
// and its JSON twin (GET /v1/status), which need no API key: the claim
// number and the phone are the credentials.
func (s *server) registerStatusPage(e *echo.Echo) error {
	cfg := s.cfg.StatusPage
	if cfg.Lookup == nil {
		cfg.Lookup = s.cfg.Reads
	}
	if cfg.Location == nil {
		cfg.Location = s.cfg.Ledger.Location()
	}
	if cfg.Logger == nil {
		cfg.Logger = s.cfg.Logger
	}
	page, err := statuspage.New(cfg)
	if err != nil {
		return err
	}
	page.Register(e)
	return nil
}

// loggedURI is the request URI as the request log may keep it: without the
// query string on routes where it holds a phone number.
//
// A path parameter named token is a credential (the customer portal's
// private links): for such a route the pattern is logged instead of the
// path, so the token never reaches a log.
func loggedURI(c *echo.Context, uri string) string {
	if strings.Contains(c.Path(), "/:token") {
		return c.Path()
	}
	if statuspage.Sensitive(c.Path()) {
		return c.Request().URL.Path
	}
	return uri
}

// ipExtractor decides which address RealIP reports, and so what the status
// page's per-client limit counts. By default only the connection's own
// address is believed: X-Forwarded-For is whatever the client wants it to
// be. Behind reverse proxies, list their networks in TrustedProxies; the
// client is then the nearest address in X-Forwarded-For that is not one of
// them.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(prefixNet(p)))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// ParseTrustedProxies reads a comma-separated list of CIDR networks or
// single addresses ("10.0.0.0/8, 192.0.2.7").
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(item); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		} else {
			errs = append(errs, fmt.Errorf("trusted proxy %q is neither a network (10.0.0.0/8) nor an address", item))
		}
	}
	return out, errors.Join(errs...)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
