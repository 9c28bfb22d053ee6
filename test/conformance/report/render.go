package main

import (
	_ "embed"
	"io"
	"strings"
	"text/template"
)

// The document's fixed text (what the tier is, why capabilities are false)
// lives in the template beside the code that fills in the figures.
//
//go:embed conformance.md.tmpl
var docTemplate string

var funcs = template.FuncMap{
	// cell keeps a table cell on one line and its pipes literal.
	"cell": func(s string) string {
		s = strings.Join(strings.Fields(s), " ")
		return strings.ReplaceAll(s, "|", `\|`)
	},
	"code": func(s string) string {
		return "`" + strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "`", "'") + "`"
	},
}

func render(w io.Writer, s *summary) error {
	t, err := template.New("conformance.md").Funcs(funcs).Parse(docTemplate)
	if err != nil {
		return err
	}
	return t.Execute(w, s)
}
