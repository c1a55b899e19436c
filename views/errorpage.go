package views

// ErrorInfo is a page that could not be shown, or a request that was refused.
type ErrorInfo struct {
	Status  int    // the HTTP status
	Title   string // short: "Not found"
	Message string // what happened, for an operator; never an internal error's text
}
