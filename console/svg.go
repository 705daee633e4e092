package console

import (
	"fmt"
	"strconv"
)

// chart is a horizontal bar chart drawn on the server as inline SVG: one
// row per label, one bar per series, each bar with its value written beside
// it and a <title>; the page also writes its numbers as a table.
type chart struct {
	ID      string // unique on the page: the SVG's title and the table refer to it
	Caption string
	Series  []string // the series' names, in the order of each row's values
	Rows    []chartRow
}

// chartRow is one label and its values, one per series.
type chartRow struct {
	Label  string
	Values []int64
	Texts  []string // the values as written; the numbers themselves when empty
}

// seriesColours fill the bars: each has at least 4.5:1 contrast on white,
// and the two differ in lightness for readers who tell no hues apart.
var seriesColours = []string{"#0a4f8f", "#9a4a00", "#3d6b21"}

// Geometry of a chart, in the SVG's own units (the SVG scales to its box).
const (
	chartWidth  = 440
	labelWidth  = 140
	valueWidth  = 80
	barHeight   = 18
	rowGap      = 10
	chartMargin = 4
)

// bar is one drawn bar.
type bar struct {
	X, Y, Width, Height int
	TextX, TextY        int
	Fill, Title, Text   string
}

// rowLabel is one drawn row label.
type rowLabel struct {
	X, Y int
	Text string
}

// drawing is a chart laid out for the SVG template.
type drawing struct {
	Width, Height int
	Bars          []bar
	Labels        []rowLabel
	Legend        []legendEntry
}

type legendEntry struct {
	X, Y       int
	Fill, Text string
}

// Draw lays the chart out: bars scaled to the largest value.
func (c chart) Draw() drawing {
	var most int64
	for _, r := range c.Rows {
		for _, v := range r.Values {
			most = max(most, v)
		}
	}
	area := chartWidth - labelWidth - valueWidth
	d := drawing{Width: chartWidth}
	y := chartMargin
	if len(c.Series) > 1 {
		for i, s := range c.Series {
			d.Legend = append(d.Legend, legendEntry{X: labelWidth + i*130, Y: y, Fill: seriesColours[i%len(seriesColours)], Text: s})
		}
		y += barHeight + rowGap
	}
	for _, r := range c.Rows {
		top := y
		for i, v := range r.Values {
			w := 0
			if most > 0 {
				w = int(v * int64(area) / most)
			}
			if v > 0 && w < 2 {
				w = 2 // a bar that is not zero is seen
			}
			text := strconv.FormatInt(v, 10)
			if i < len(r.Texts) && r.Texts[i] != "" {
				text = r.Texts[i]
			}
			title := r.Label + ": " + text
			if len(c.Series) > 1 {
				title = fmt.Sprintf("%s, %s: %s", r.Label, c.Series[i], text)
			}
			d.Bars = append(d.Bars, bar{
				X: labelWidth, Y: y, Width: w, Height: barHeight,
				TextX: labelWidth + w + 6, TextY: y + barHeight - 4,
				Fill: seriesColours[i%len(seriesColours)], Title: title, Text: text,
			})
			y += barHeight + 2
		}
		d.Labels = append(d.Labels, rowLabel{X: labelWidth - 8, Y: top + barHeight - 4, Text: r.Label})
		y += rowGap
	}
	d.Height = y + chartMargin
	return d
}
