package api

import (
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
)

// maxRequestIDLength bounds a caller's X-Request-Id.
const maxRequestIDLength = 64

// requestID gives every request an id: the caller's X-Request-Id when it
// is a safe token (validRequestID), else a new random one. The id is
// answered in X-Request-Id, logged with every line of the request, and
// written into the ledger as the events' correlation and causation ids:
// a caller's header must never put unbounded or unprintable data there.
var requestID = func() echo.MiddlewareFunc {
	assign := middleware.RequestID()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withID := assign(next)
		return func(c *echo.Context) error {
			h := c.Request().Header
			if ids := h.Values(echo.HeaderXRequestID); len(ids) != 1 || !validRequestID(ids[0]) {
				h.Del(echo.HeaderXRequestID) // the middleware then generates one
			}
			return withID(c)
		}
	}
}()

// validRequestID reports whether a caller's request id may be kept: 1 to
// 64 characters of letters, digits, '.', '_', ':' and '-'.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}
