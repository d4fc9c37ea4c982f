package main

import (
	"reflect"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/framework/config/configdoc"
)

// generate is the reference of the example app's configuration.
func generate(root string) ([]byte, error) {
	return configdoc.Generate(root, reflect.TypeOf(app.Config{}), "app")
}
