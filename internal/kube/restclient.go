package kube

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// newRESTClient returns a REST client for one API group version, with a
// scheme that knows only the types addToScheme registers, and the parameter
// codec that encodes list and watch options for it. Core and ThrottleGroups
// are both built this way: hand-written clients over a narrow scheme instead
// of a generated clientset (see CoreAPI for why). apiPath is "/api" for the
// core group and "/apis" for every other. cfg is copied, not changed.
func newRESTClient(cfg *rest.Config, gv schema.GroupVersion, apiPath string,
	addToScheme func(*runtime.Scheme) error) (rest.Interface, runtime.ParameterCodec, error) {
	scheme := runtime.NewScheme()
	if err := addToScheme(scheme); err != nil {
		return nil, nil, err
	}
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &gv
	c.APIPath = apiPath
	c.NegotiatedSerializer = serializer.WithoutConversionCodecFactory{CodecFactory: serializer.NewCodecFactory(scheme)}
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, nil, fmt.Errorf("REST client for %q at %s: %w", gv.String(), apiPath, err)
	}
	return rc, runtime.NewParameterCodec(scheme), nil
}
