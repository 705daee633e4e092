package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v5"
)

// newRouter is echo's router with HEAD answered wherever GET is (load
// balancers probe with HEAD /healthz): the GET handler runs and its body is
// dropped. The Allow header of a 405 and of an OPTIONS answer then names
// HEAD beside GET, as it is served.
func newRouter() *echo.DefaultRouter {
	return echo.NewRouter(echo.RouterConfig{
		AutoHandleHEAD: true,
		MethodNotAllowedHandler: func(c *echo.Context) error {
			setAllow(c)
			return echo.ErrMethodNotAllowed
		},
		OptionsMethodHandler: func(c *echo.Context) error {
			setAllow(c)
			return c.NoContent(http.StatusNoContent)
		},
	})
}

// setAllow writes the Allow header from the methods the router found for
// the path, adding HEAD where GET is served.
func setAllow(c *echo.Context) {
	allow, _ := c.Get(echo.ContextKeyHeaderAllow).(string)
	if allow == "" {
		return
	}
	methods := strings.Split(allow, ", ")
	if get := slices.Index(methods, http.MethodGet); get >= 0 && !slices.Contains(methods, http.MethodHead) {
		methods = slices.Insert(methods, get+1, http.MethodHead)
	}
	c.Response().Header().Set(echo.HeaderAllow, strings.Join(methods, ", "))
}
