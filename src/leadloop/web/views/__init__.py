"""The browser face: thin views that parse a request, call one selector or service, and render."""
