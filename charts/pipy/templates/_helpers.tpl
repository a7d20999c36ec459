{{/*
Names. Every object is named after the release, so that the operator's flags (which
name the Service, Secret, webhook configurations and Lease it manages) are predictable:
`helm install pipy` gives pipy-operator, pipy-repo, pipy-webhook, pipy-webhook-tls ...
*/}}
{{- define "pipy.operator" -}}{{ .Release.Name }}-operator{{- end }}
{{- define "pipy.repoService" -}}{{ .Release.Name }}-repo{{- end }}
{{- define "pipy.webhookService" -}}{{ .Release.Name }}-webhook{{- end }}
{{- define "pipy.webhookSecret" -}}{{ .Release.Name }}-webhook-tls{{- end }}
{{- define "pipy.mutatingWebhook" -}}{{ .Release.Name }}-sidecar-injector{{- end }}
{{- define "pipy.validatingWebhook" -}}{{ .Release.Name }}-codebase-validator{{- end }}
{{- define "pipy.leaderLease" -}}{{ .Release.Name }}-operator-leader{{- end }}
{{- define "pipy.crdName" -}}codebases.pipy.dev{{- end }}

{{/* Labels on every object. */}}
{{- define "pipy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pipy
{{ include "pipy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* Labels that select the operator pods (immutable in a Deployment: keep stable). */}}
{{- define "pipy.selectorLabels" -}}
app.kubernetes.io/name: pipy-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* An image reference; the tag defaults to the chart's appVersion. */}}
{{- define "pipy.image" -}}
{{- $img := index . 0 -}}{{- $root := index . 1 -}}
{{- printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag) -}}
{{- end }}

{{/* The webhook Service's in-cluster host name (the serving certificate's DNS name). */}}
{{- define "pipy.webhookHost" -}}
{{- printf "%s.%s.svc" (include "pipy.webhookService" .) .Release.Namespace -}}
{{- end }}

{{/* The value of cert-manager's cert-manager.io/inject-ca-from annotation. */}}
{{- define "pipy.injectCAFrom" -}}
{{ .Release.Namespace }}/{{ include "pipy.webhookSecret" . }}
{{- end }}
