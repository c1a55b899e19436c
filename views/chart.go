package views

// Chart is a time series chart, drawn in the browser by static/app.js with uPlot.
type Chart struct {
	// ID names the chart: ChartFigure renders the figure with data-chart=ID and
	// data-testid="chart-"+ID; ChartData the data for it.
	ID    string `json:"-"`
	Title string `json:"-"`
	// Unit labels the y axis ("connections", "messages/s").
	Unit string `json:"unit"`
	// Series names the lines, in the order of Data[1:].
	Series []string `json:"series"`
	// Data are uPlot's columns: Data[0] the sample times (Unix seconds), then one column per
	// series, each as long as Data[0]; nil is a gap (no value at that time).
	Data [][]*float64 `json:"data"`
}
