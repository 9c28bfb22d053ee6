package kube

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// restClient is what Core and ThrottleGroups are made of: a REST client for
// one API group version and the parameter codec that encodes list and watch
// options for it. Both are hand-written clients over a narrow scheme instead
// of a generated clientset (see CoreAPI for why).
type restClient struct {
	rest   rest.Interface
	params runtime.ParameterCodec
}

// newRESTClient returns a restClient for gv whose scheme knows only the
// types addToScheme registers. apiPath is "/api" for the core group and
// "/apis" for every other. cfg is copied, not changed.
func newRESTClient(cfg *rest.Config, gv schema.GroupVersion, apiPath string,
	addToScheme func(*runtime.Scheme) error) (restClient, error) {
	scheme := runtime.NewScheme()
	if err := addToScheme(scheme); err != nil {
		return restClient{}, err
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
		return restClient{}, fmt.Errorf("REST client for %q at %s: %w", gv.String(), apiPath, err)
	}
	return restClient{rest: rc, params: runtime.NewParameterCodec(scheme)}, nil
}
