package console

import "testing"

// TestChartDraw: the largest value fills the bar area, others scale to
// it, a small value that is not zero stays visible, zero draws nothing,
// and each bar's title names its row, series and value.
func TestChartDraw(t *testing.T) {
	c := chart{ID: "c", Series: []string{"Opened", "Closed"}, Rows: []chartRow{
		{Label: "w1", Values: []int64{1000, 500}},
		{Label: "w2", Values: []int64{1, 0}},
	}}
	d := c.Draw()
	area := chartWidth - labelWidth - valueWidth
	if len(d.Bars) != 4 || len(d.Labels) != 2 || len(d.Legend) != 2 {
		t.Fatalf("drawn: %d bars, %d labels, %d legend entries", len(d.Bars), len(d.Labels), len(d.Legend))
	}
	for i, want := range []int{area, area / 2, 2, 0} {
		if d.Bars[i].Width != want {
			t.Errorf("bar %d: width %d, want %d", i, d.Bars[i].Width, want)
		}
	}
	if got := d.Bars[1].Title; got != "w1, Closed: 500" {
		t.Errorf("title: %q", got)
	}
	if d.Bars[2].Y <= d.Bars[1].Y || d.Height <= d.Bars[3].Y+barHeight {
		t.Errorf("rows overlap or run past the drawing: %+v, height %d", d.Bars, d.Height)
	}
	empty := chart{Series: []string{"x"}, Rows: []chartRow{{Label: "a", Values: []int64{0}}}}.Draw()
	if empty.Bars[0].Width != 0 {
		t.Errorf("an all-zero chart draws a bar of %d", empty.Bars[0].Width)
	}
}
