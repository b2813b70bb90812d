{{/* Labels Helm adds to every object, besides those config/default sets. */}}
{{- define "selfserve.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* The labels that select the manager's pods. */}}
{{- define "selfserve.selectorLabels" -}}
app.kubernetes.io/name: selfserve
control-plane: controller-manager
{{- end }}
