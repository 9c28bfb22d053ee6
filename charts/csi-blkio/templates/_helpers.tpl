{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "csi-blkio.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of the release's namespaced and cluster-scoped objects. The release name
alone when it already contains the chart name (helm install csi-blkio ...).
*/}}
{{- define "csi-blkio.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "csi-blkio.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "csi-blkio.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: csi-blkio
{{- end }}

{{/* Labels that select the node plugin's pods; immutable once installed. */}}
{{- define "csi-blkio.selectorLabels" -}}
app.kubernetes.io/name: {{ include "csi-blkio.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: node
{{- end }}

{{- define "csi-blkio.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "csi-blkio.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* image REPO:TAG from an {repository, tag} map; tag defaults to $default. */}}
{{- define "csi-blkio.image" -}}
{{- $img := index . 0 }}{{- $default := index . 1 -}}
{{- printf "%s:%s" $img.repository (default $default $img.tag | toString) }}
{{- end }}

{{/* Where the kubelet finds the plugin's CSI socket (host path). */}}
{{- define "csi-blkio.pluginDir" -}}
{{- printf "%s/plugins/%s" (trimSuffix "/" .Values.node.kubeletDir) .Values.driverName }}
{{- end }}
