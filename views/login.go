package views

// Login is the login page.
type Login struct {
	// Username is pre-filled after a failed attempt.
	Username string
	// Error is why the last attempt failed; empty for none.
	Error string
	// Notice is an informational line ("You have logged out.").
	Notice string
	// Next is the page to go to after logging in, sent back with the form.
	Next string
}
