{{/* The name of the release's objects: the release name, or podium-<release>. */}}
{{- define "podium.fullname" -}}
{{- if contains "podium" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "podium-%s" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "podium.selectorLabels" -}}
app.kubernetes.io/name: podium
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "podium.labels" -}}
{{ include "podium.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The KubeSchedulerConfiguration: the values' schedulerConfig, with leaderElection from the
values and its Lease in the release's namespace. */}}
{{- define "podium.schedulerConfig" -}}
{{- $config := deepCopy .Values.schedulerConfig -}}
{{- $_ := set $config "apiVersion" "kubescheduler.config.k8s.io/v1" -}}
{{- $_ := set $config "kind" "KubeSchedulerConfiguration" -}}
{{- $le := .Values.leaderElection -}}
{{- $_ := set $config "leaderElection" (dict
      "leaderElect" $le.enabled
      "resourceName" $le.resourceName
      "resourceNamespace" .Release.Namespace
      "leaseDuration" $le.leaseDuration
      "renewDeadline" $le.renewDeadline
      "retryPeriod" $le.retryPeriod) -}}
{{- toYaml $config -}}
{{- end -}}
