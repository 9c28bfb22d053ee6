//go:build chart

package helm

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

func rule(groups, resources, verbs []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs}
}

func list(s ...string) []string { return s }

// TestRBACIsExactlyWhatIsNeeded pins every rule and verb: a new permission
// must be added here on purpose, with the reason in clusterrole.yaml.
func TestRBACIsExactlyWhatIsNeeded(t *testing.T) {
	o := newHelm(t).render(t, "")

	wantCluster := []rbacv1.PolicyRule{
		rule(list(""), list("persistentvolumes"), list("get", "list", "watch", "create", "patch", "delete")),
		rule(list(""), list("persistentvolumeclaims"), list("get", "list", "watch", "update")),
		rule(list(""), list("persistentvolumeclaims/status"), list("patch")),
		rule(list("storage.k8s.io"), list("volumeattributesclasses"), list("get", "list", "watch")),
		rule(list("storage.k8s.io"), list("storageclasses"), list("get", "list", "watch")),
		rule(list(""), list("nodes"), list("get")),
		rule(list(""), list("pods"), list("get")),
		rule(list("", "events.k8s.io"), list("events"), list("create", "patch")),
		rule(list("blkio.csi.dev"), list("throttlegroups"), list("get", "list", "watch", "create", "update", "patch", "delete")),
		rule(list("blkio.csi.dev"), list("throttlegroups/status"), list("patch")),
	}
	if !equality.Semantic.DeepEqual(o.clusterRole.Rules, wantCluster) {
		t.Errorf("ClusterRole rules\n got %+v\nwant %+v", o.clusterRole.Rules, wantCluster)
	}

	wantRole := []rbacv1.PolicyRule{
		rule(list("storage.k8s.io"), list("csistoragecapacities"), list("get", "list", "watch", "create", "update", "patch", "delete")),
		rule(list("coordination.k8s.io"), list("leases"), list("get", "create", "update")),
	}
	if !equality.Semantic.DeepEqual(o.role.Rules, wantRole) {
		t.Errorf("Role rules\n got %+v\nwant %+v", o.role.Rules, wantRole)
	}
	if o.role.Namespace != namespace {
		t.Errorf("Role in namespace %q, want the release namespace %q", o.role.Namespace, namespace)
	}

	for _, verb := range []string{"*", "escalate", "bind", "impersonate", "deletecollection"} {
		for _, r := range append(o.clusterRole.Rules, o.role.Rules...) {
			if contains(r.Verbs, verb) || contains(r.Resources, "*") || contains(r.APIGroups, "*") {
				t.Errorf("rule %+v grants %q or a wildcard", r, verb)
			}
		}
	}
}

func TestBindingsGrantTheDaemonSetsServiceAccount(t *testing.T) {
	o := newHelm(t).render(t, "")
	sa := o.daemonSet.Spec.Template.Spec.ServiceAccountName
	if sa == "" || sa != o.serviceAccount.Name || o.serviceAccount.Namespace != namespace {
		t.Fatalf("DaemonSet runs as %q, ServiceAccount is %s/%s", sa, o.serviceAccount.Namespace, o.serviceAccount.Name)
	}
	wantSubject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: namespace}}
	if !equality.Semantic.DeepEqual(o.clusterRoleBinding.Subjects, wantSubject) {
		t.Errorf("ClusterRoleBinding subjects %+v", o.clusterRoleBinding.Subjects)
	}
	if o.clusterRoleBinding.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: o.clusterRole.Name}) {
		t.Errorf("ClusterRoleBinding roleRef %+v", o.clusterRoleBinding.RoleRef)
	}
	if !equality.Semantic.DeepEqual(o.roleBinding.Subjects, wantSubject) || o.roleBinding.Namespace != namespace {
		t.Errorf("RoleBinding %s/%s subjects %+v", o.roleBinding.Namespace, o.roleBinding.Name, o.roleBinding.Subjects)
	}
	if o.roleBinding.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: o.role.Name}) {
		t.Errorf("RoleBinding roleRef %+v", o.roleBinding.RoleRef)
	}
}

func TestExistingServiceAccountIsUsedWhenNotCreated(t *testing.T) {
	o := newHelm(t).render(t, "serviceAccount: {create: false, name: mine}\n")
	if o.serviceAccount != nil {
		t.Error("a ServiceAccount was rendered with serviceAccount.create=false")
	}
	if got := o.daemonSet.Spec.Template.Spec.ServiceAccountName; got != "mine" {
		t.Errorf("DaemonSet runs as %q, want mine", got)
	}
	if got := o.clusterRoleBinding.Subjects[0].Name; got != "mine" {
		t.Errorf("ClusterRoleBinding binds %q, want mine", got)
	}
}
